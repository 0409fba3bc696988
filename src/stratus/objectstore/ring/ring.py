"""The ring as every proxy, storage server and daemon uses it: immutable and fast.

A ``Ring`` answers two questions on the hot path — which partition a name falls in, and
which devices hold that partition — with one md5 and a few array lookups. It is never
modified: a new ring file produces a new ``Ring`` object that replaces the old one whole.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence

from stratus.common.errors import InvalidInput
from stratus.objectstore.ring.devices import NO_DEVICE, Device


class Ring:
    """``2**part_power`` partitions, each held by ``replicas`` distinct devices."""

    def __init__(
        self,
        part_power: int,
        table: Sequence[array[int]],
        devices: Sequence[Device],
        *,
        hash_prefix: str,
        hash_suffix: str,
        version: int,
    ) -> None:
        self.part_power = part_power
        self.version = version
        self.hash_prefix = hash_prefix
        self.hash_suffix = hash_suffix
        self._shift = 32 - part_power
        self._prefix = hash_prefix.encode()
        self._suffix = hash_suffix.encode()
        self._table = tuple(table)
        by_id: list[Device | None] = [None] * (max((d.id for d in devices), default=-1) + 1)
        for dev in devices:
            by_id[dev.id] = dev
        self._by_id = by_id
        self._devices = tuple(sorted(devices, key=lambda d: d.id))
        self._check()

    def _check(self) -> None:
        """Refuse a table that would send a request to a device that does not exist."""
        parts = 1 << self.part_power
        if not self._table or any(len(row) != parts for row in self._table):
            raise InvalidInput("ring.file.corrupt", "partition table has the wrong shape")
        known = {d.id for d in self._devices}
        for row in self._table:
            missing = set(row) - known
            if missing:
                bad = "unassigned" if NO_DEVICE in missing else f"unknown device {min(missing)}"
                raise InvalidInput("ring.file.corrupt", f"partition table refers to {bad}")

    @property
    def replicas(self) -> int:
        return len(self._table)

    @property
    def partition_count(self) -> int:
        return 1 << self.part_power

    @property
    def devices(self) -> tuple[Device, ...]:
        return self._devices

    def device(self, dev_id: int) -> Device | None:
        return self._by_id[dev_id] if 0 <= dev_id < len(self._by_id) else None

    def partition(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        """The partition of ``/account[/container[/object]]``.

        The top bits of md5(prefix + path + suffix) spread names evenly; the per-cluster
        secret keeps anyone from choosing names that pile onto one partition.
        """
        if obj is not None and container is None:
            raise InvalidInput("ring.bad_path", "an object name needs a container")
        path = "/" + account
        if container is not None:
            path += "/" + container
            if obj is not None:
                path += "/" + obj
        digest = hashlib.md5(  # md5 spreads names; it guards no secret
            self._prefix + path.encode() + self._suffix, usedforsecurity=False
        ).digest()
        return int.from_bytes(digest[:4], "big") >> self._shift

    def primaries(self, part: int) -> list[Device]:
        """The devices that hold ``part``, in replica order."""
        by_id = self._by_id
        return [by_id[row[part]] for row in self._table]  # type: ignore[misc]

    def handoffs(self, part: int) -> Iterator[Device]:
        """Every other device of weight > 0, in the order to try when primaries fail.

        Each step takes the device in the region, zone and server holding the fewest of
        the devices chosen so far, so the first handoffs leave the failure domains of the
        primaries. Ties follow a per-partition shuffle that every process computes
        identically, so all proxies write a partition to the same handoff and the extra
        load of a failed device spreads over the rest.
        """
        chosen = self.primaries(part)
        taken = {d.id for d in chosen}
        regions = Counter(d.region for d in chosen)
        zones = Counter(d.zone_key for d in chosen)
        servers = Counter(d.server_key for d in chosen)
        left = sorted(
            (d for d in self._devices if d.id not in taken and d.weight > 0),
            key=lambda d: _mix(part, d.id),
        )
        while left:
            best = min(
                range(len(left)),
                key=lambda i: (
                    regions[left[i].region],
                    zones[left[i].zone_key],
                    servers[left[i].server_key],
                ),
            )
            dev = left.pop(best)
            regions[dev.region] += 1
            zones[dev.zone_key] += 1
            servers[dev.server_key] += 1
            yield dev

    def table(self) -> tuple[array[int], ...]:
        """The raw partition table (``[replica][part] -> device id``) for the ring file."""
        return self._table


def _mix(part: int, dev_id: int) -> int:
    """A stable 32-bit hash of (partition, device): the same in every process and release."""
    x = (part * 0x9E3779B1 + dev_id * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    return x

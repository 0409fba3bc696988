"""The ring builder: the operator's view of a ring, saved as ``<name>.builder``.

The builder keeps what a running process never needs (pending removals, when each
partition last moved, the next device id) apart from the ``Ring`` it produces, so the hot
path loads a compact table and the operator's history is never lost by rebuilding a ring.
Everything the builder decides is a pure function of its saved state and the clock, so two
operators replaying the same commands get the same ring.
"""

from __future__ import annotations

import secrets
import time
from array import array
from collections import Counter
from collections.abc import Callable, Mapping
from typing import NamedTuple, TypeVar

from stratus.common.errors import Conflict, InvalidInput, NotFound
from stratus.objectstore.ring import placement
from stratus.objectstore.ring.devices import MAX_DEVICE_ID, NO_DEVICE, Device
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.ring.targets import device_tier, replica_shares

MAX_PART_POWER = 22  # 4M partitions: the table stays a few tens of MiB per ring
MAX_REPLICAS = 8
_BALANCE_CAP = 999.99
_T = TypeVar("_T")  # a draining device still holding data is "infinitely" off


class RebalanceResult(NamedTuple):
    moved: int  # partitions with at least one replica on a new device
    balance: float  # worst device's distance from its target, in percent


class RingBuilder:
    """Devices, weights and the partition table of one ring (account, container or object)."""

    def __init__(
        self,
        part_power: int,
        replicas: int,
        min_part_hours: int,
        *,
        hash_prefix: str = "",
        hash_suffix: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check_range("part_power", part_power, 1, MAX_PART_POWER)
        _check_range("replicas", replicas, 1, MAX_REPLICAS)
        _check_range("min_part_hours", min_part_hours, 0, 24 * 365)
        self.part_power = part_power
        self.replicas = replicas
        self.min_part_hours = min_part_hours
        self.hash_prefix = hash_prefix
        # A secret suffix keeps clients from aiming many names at one partition.
        self.hash_suffix = secrets.token_hex(16) if hash_suffix is None else hash_suffix
        self.clock = clock
        self.version = 0
        self.dirty = False  # devices changed since the last rebalance
        self.next_id = 0
        self._devices: dict[int, Device] = {}
        self._removed: set[int] = set()
        parts = 1 << part_power
        self.table = [array("H", [NO_DEVICE]) * parts for _ in range(replicas)]
        self.last_moved = array("I", [0]) * parts

    @property
    def parts(self) -> int:
        return 1 << self.part_power

    @property
    def devices(self) -> list[Device]:
        """Devices of the ring, without those waiting for the next rebalance to leave."""
        return [d for i, d in sorted(self._devices.items()) if i not in self._removed]

    @property
    def pending_removal(self) -> list[Device]:
        return [self._devices[i] for i in sorted(self._removed)]

    def device(self, dev_id: int) -> Device:
        dev = self._devices.get(dev_id)
        if dev is None or dev_id in self._removed:
            raise NotFound("ring.device.not_found", f"no device {dev_id} in the ring")
        return dev

    def find(self, address: str) -> Device:
        """A device by id (``3``) or by ``ip:port/device``."""
        if address.isdigit():
            return self.device(int(address))
        for dev in self.devices:
            if dev.address == address:
                return dev
        raise NotFound("ring.device.not_found", f"no device {address} in the ring")

    def add_device(
        self,
        *,
        region: int,
        zone: int,
        ip: str,
        port: int,
        device: str,
        weight: float,
        meta: str = "",
    ) -> Device:
        """Add a device; it takes partitions at the next rebalance."""
        if self.next_id > MAX_DEVICE_ID:
            raise InvalidInput("ring.too_many_devices", "no device id left in this ring")
        dev = Device(self.next_id, region, zone, ip, port, device, weight, meta)
        for other in self.devices:
            if other.address == dev.address:
                raise Conflict("ring.device.exists", f"{dev.address} is already device {other.id}")
        self._devices[dev.id] = dev
        self.next_id += 1
        self.dirty = True
        return dev

    def remove_device(self, dev_id: int) -> Device:
        """Mark a device for removal; the next rebalance moves all its partitions away."""
        dev = self.device(dev_id)
        self._removed.add(dev_id)
        self.dirty = True
        return dev

    def set_weight(self, dev_id: int, weight: float) -> Device:
        dev = self.device(dev_id)
        new = Device(dev.id, dev.region, dev.zone, dev.ip, dev.port, dev.device, weight, dev.meta)
        self._devices[dev_id] = new
        self.dirty = True
        return new

    def set_address(self, dev_id: int, ip: str, port: int) -> Device:
        """Move a device's server to a new address; its partitions stay where they are.

        The ring version goes up so running processes load the ring with the new address.
        """
        dev = self.device(dev_id)
        new = Device(dev.id, dev.region, dev.zone, ip, port, dev.device, dev.weight, dev.meta)
        for other in self.devices:
            if other.id != dev_id and other.address == new.address:
                raise Conflict("ring.device.exists", f"{new.address} is already device {other.id}")
        self._devices[dev_id] = new
        self.version += 1
        return new

    def rebalance(self) -> RebalanceResult:
        """Move the fewest partitions that bring every device to its share.

        Partitions moved less than ``min_part_hours`` ago stay put, except replicas on
        removed devices, which always move.
        """
        live = {d.id: d for d in self.devices}
        placer = placement.Placer(
            self.table,
            self.last_moved,
            live,
            now=int(self.clock()),
            lock_seconds=self.min_part_hours * 3600,
            seed=self.version,
        )
        moved = placer.run()
        for dev_id in self._removed:
            if not any(dev_id in row for row in self.table):
                del self._devices[dev_id]
        self._removed.intersection_update(self._devices)
        if moved or self.dirty:
            self.version += 1
        self.dirty = bool(self._removed)
        return RebalanceResult(len(moved), self.balance())

    def parts_per_device(self) -> dict[int, int]:
        counts: Counter[int] = Counter()
        for row in self.table:
            counts.update(row)
        return {dev_id: counts.get(dev_id, 0) for dev_id in self._devices}

    def targets(self) -> dict[int, float]:
        """Replicas each device should hold once balanced (0 for draining devices)."""
        active = [d for d in self.devices if d.weight > 0]
        if len(active) < self.replicas:
            return dict.fromkeys(self._devices, 0.0)
        shares = replica_shares(active, self.replicas)
        wanted = {d.id: shares[device_tier(d)] * self.parts for d in active}
        return {dev_id: wanted.get(dev_id, 0.0) for dev_id in self._devices}

    def balance(self) -> float:
        """The worst device's distance from its target in percent (0 is perfect)."""
        counts, targets = self.parts_per_device(), self.targets()
        worst = 0.0
        for dev_id, target in targets.items():
            held = counts[dev_id]
            if target > 0:
                worst = max(worst, abs(held - target) * 100.0 / target)
            elif held:
                worst = _BALANCE_CAP
        return round(min(worst, _BALANCE_CAP), 2)

    def dispersion(self) -> float:
        """Percent of partitions spread over fewer zones or regions than possible."""
        active = {d.id: d for d in self.devices if d.weight > 0}
        regions = {d.region for d in active.values()}
        zones = {d.zone_key for d in active.values()}
        want_regions = min(self.replicas, len(regions))
        want_zones = min(self.replicas, len(zones))
        poor = 0
        for devs in zip(*self.table, strict=True):
            placed = [active[i] for i in devs if i in active]
            if (
                len(placed) < len(devs)
                or len({d.region for d in placed}) < want_regions
                or len({d.zone_key for d in placed}) < want_zones
            ):
                poor += 1
        return round(poor * 100.0 / self.parts, 2)

    def validate(self) -> list[str]:
        """Raise on a broken table; return warnings an operator should act on."""
        if self.version == 0:
            raise InvalidInput("ring.not_rebalanced", "the ring was never rebalanced")
        for part, devs in enumerate(zip(*self.table, strict=True)):
            _check_partition(part, devs, self._devices)
        warnings = []
        if self.dirty:
            warnings.append("devices changed since the last rebalance")
        if (balance := self.balance()) > 1.0:
            warnings.append(f"balance {balance:.2f}% (run rebalance again after min_part_hours)")
        if (spread := self.dispersion()) > 0:
            warnings.append(f"{spread:.2f}% of partitions could be spread over more zones")
        return warnings

    def to_ring(self) -> Ring:
        return Ring(
            self.part_power,
            [array("H", row) for row in self.table],
            list(self._devices.values()),
            hash_prefix=self.hash_prefix,
            hash_suffix=self.hash_suffix,
            version=self.version,
        )

    def to_document(self) -> tuple[dict[str, object], list[array[int]]]:
        """The builder's state as a JSON-able record and its arrays, for ``store``."""
        meta: dict[str, object] = {
            "part_power": self.part_power,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "hash_prefix": self.hash_prefix,
            "hash_suffix": self.hash_suffix,
            "version": self.version,
            "dirty": self.dirty,
            "next_id": self.next_id,
            "devices": [d.to_record() for _, d in sorted(self._devices.items())],
            "removed": sorted(self._removed),
        }
        return meta, [*self.table, self.last_moved]

    @classmethod
    def from_document(
        cls,
        meta: Mapping[str, object],
        arrays: list[array[int]],
        clock: Callable[[], float] = time.time,
    ) -> RingBuilder:
        try:
            builder = cls(
                _field(meta, "part_power", int),
                _field(meta, "replicas", int),
                _field(meta, "min_part_hours", int),
                hash_prefix=_field(meta, "hash_prefix", str),
                hash_suffix=_field(meta, "hash_suffix", str),
                clock=clock,
            )
            builder.version = _field(meta, "version", int)
            builder.dirty = _field(meta, "dirty", bool)
            builder.next_id = _field(meta, "next_id", int)
            records = _field(meta, "devices", list)
            removed = _field(meta, "removed", list)
        except (KeyError, TypeError) as exc:
            raise InvalidInput("ring.file.corrupt", f"malformed builder state: {exc}") from exc
        builder._devices = {d.id: d for d in map(Device.from_record, records)}
        builder._removed = {int(i) for i in removed}
        builder._load_arrays(arrays)
        return builder

    def _load_arrays(self, arrays: list[array[int]]) -> None:
        shapes_ok = len(arrays) == self.replicas + 1 and all(len(a) == self.parts for a in arrays)
        if not shapes_ok or any(a.typecode != "H" for a in arrays[:-1]):
            raise InvalidInput("ring.file.corrupt", "builder table does not match its header")
        self.table = arrays[:-1]
        self.last_moved = arrays[-1]


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidInput(f"ring.invalid_{name}", f"{name} must be in {low}..{high}, got {value}")


def _check_partition(part: int, devs: tuple[int, ...], known: Mapping[int, Device]) -> None:
    if NO_DEVICE in devs:
        raise InvalidInput("ring.invalid", f"partition {part} has an unassigned replica")
    if len(set(devs)) != len(devs):
        raise InvalidInput("ring.invalid", f"partition {part} has two replicas on one device")
    for dev_id in devs:
        if dev_id not in known:
            raise InvalidInput("ring.invalid", f"partition {part} is on unknown device {dev_id}")


def _field(meta: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    value = meta[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{key} should be {kind.__name__}")
    return value

"""This node's devices in a ring, and the partitions and suffixes on them: what the
replicators and the auditor walk.

A device is local when the ring gives it one of this node's addresses and the port of
this node's server, and its directory exists under the devices root: a device whose disk
is gone is skipped, so a daemon never fills the root filesystem in its place. Nothing here
knows what a partition holds (objects, containers or accounts), only where it lives.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stratus.objectstore.ring import Device, Ring
from stratus.objectstore.storage.layout import SUFFIX_RE

WILDCARDS = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class LocalNode:
    """Where this node's devices are, and how the ring names this node."""

    devices_root: Path
    ips: frozenset[str]
    port: int | None  # None: any port (all-in-one, whose server may take a free port)

    def owns(self, dev: Device) -> bool:
        port_matches = self.port is None or dev.port == self.port
        return port_matches and dev.ip in self.ips

    def device_dir(self, dev: Device) -> Path:
        return self.devices_root / dev.device


def local_devices(ring: Ring, node: LocalNode) -> list[Device]:
    """The ring's devices on this node whose directory is present, one per name."""
    found: dict[str, Device] = {}
    for dev in ring.devices:
        if node.owns(dev) and dev.device not in found and node.device_dir(dev).is_dir():
            found[dev.device] = dev
    return list(found.values())


def partitions(kind_dir: Path) -> list[int]:
    """The partition directories under ``<device>/objects`` (or ``containers``...)."""
    try:
        names = os.listdir(kind_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(n) for n in names if n.isdigit() and (kind_dir / n).is_dir())


def suffixes(partition_dir: Path) -> list[str]:
    try:
        names = os.listdir(partition_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in names if SUFFIX_RE.fullmatch(n))


def node_ips(hosts: Iterable[str]) -> frozenset[str]:
    """Blocking (name lookups): the loopback addresses, this host's, and ``hosts``'s."""
    ips = {"127.0.0.1", "::1"}
    for host in {socket.gethostname(), "localhost", *hosts} - WILDCARDS:
        ips.add(host)
        with contextlib.suppress(OSError):
            ips.update(str(info[4][0]) for info in socket.getaddrinfo(host, None))
    return frozenset(ips)

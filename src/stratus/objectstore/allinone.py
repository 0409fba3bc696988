"""The all-in-one object store of ``stratus up``: device directories and rings.

Built once, before any object-store service starts, from ``[objectstore]`` (devices,
replicas, part power) and the ports the backends were given. A later start keeps the
rings (and so where every object lives); if a backend's port changed, only the devices'
addresses are updated. The three rings share one hash path secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from stratus.objectstore.ring import RingBuilder, load_ring, save_ring
from stratus.objectstore.ring.store import load_builder, save_builder
from stratus.settings import Settings

# Ring name -> the service that serves it.
RING_SERVERS = {
    "account": "account-server",
    "container": "container-server",
    "object": "object-server",
}
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def prepare(settings: Settings, ports: Mapping[str, int]) -> None:
    """Create the devices and make each ring name ``ports[server]`` on the bind host."""
    cfg = settings.objectstore
    devices_root, ring_dir = settings.objectstore_dirs()
    for i in range(cfg.devices):
        (devices_root / f"d{i}").mkdir(parents=True, exist_ok=True)
    ring_dir.mkdir(parents=True, exist_ok=True)
    host = settings.http.bind_host
    ip = "127.0.0.1" if host in WILDCARDS else host
    suffix = _shared_suffix(ring_dir)
    for kind, server in RING_SERVERS.items():
        port = ports[server]
        builder_path, ring_path = ring_dir / f"{kind}.builder", ring_dir / f"{kind}.ring"
        if builder_path.exists():
            builder = load_builder(builder_path)
            moved = [d for d in builder.devices if (d.ip, d.port) != (ip, port)]
            for dev in moved:
                builder.set_address(dev.id, ip, port)
            if not moved and ring_path.exists():
                continue
        else:
            builder = RingBuilder(cfg.part_power, cfg.replicas, 0, hash_suffix=suffix)
            for i in range(cfg.devices):
                builder.add_device(region=1, zone=i, ip=ip, port=port, device=f"d{i}", weight=1.0)
            builder.rebalance()
        save_builder(builder, builder_path)
        save_ring(builder.to_ring(), ring_path)


def _shared_suffix(ring_dir: Path) -> str:
    """The secret of a ring already built, so every ring hashes names alike."""
    for kind in RING_SERVERS:
        path = ring_dir / f"{kind}.ring"
        if path.exists():
            return load_ring(path).hash_suffix
    return secrets.token_hex(16)

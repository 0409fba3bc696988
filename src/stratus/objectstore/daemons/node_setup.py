"""What an object daemon needs from the settings: the ring, this node, its disks.

Shared by the replicator and the auditor (as daemons and as ``stratus objectstore ...
--once``) so they all see the same devices as local: those the object ring places on this
host's addresses at ``[objectstore].object_port``, or at any port when that is 0, as under
``stratus up``, whose object server takes a free port that the ring then records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from stratus.objectstore.daemons.local_devices import LocalNode, node_ips
from stratus.objectstore.ring import Ring, RingLoader
from stratus.objectstore.storage.config import DiskConfig
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.layout import PathHasher
from stratus.settings import Settings


@dataclass(frozen=True, slots=True)
class LocalStorage:
    ring: Callable[[], Ring]
    node: LocalNode
    disk: DiskFileManager


async def local_storage(settings: Settings) -> LocalStorage:
    cfg = settings.objectstore
    devices_root, ring_dir = settings.objectstore_dirs()
    loader = RingLoader(ring_dir / "object.ring", check_interval=cfg.ring_check_interval)
    ring = await asyncio.to_thread(lambda: loader.ring)
    hosts = (settings.http.bind_host, settings.http.public_host)
    ips = await asyncio.to_thread(node_ips, hosts)
    node = LocalNode(devices_root, ips, cfg.object_port or None)
    config = DiskConfig(fsync=cfg.fsync, reclaim_age=cfg.reclaim_age, direct_io=cfg.direct_io)
    hasher = PathHasher(ring.hash_prefix.encode(), ring.hash_suffix.encode())
    disk = DiskFileManager(devices_root, hasher=hasher, config=config)
    return LocalStorage(lambda: loader.ring, node, disk)

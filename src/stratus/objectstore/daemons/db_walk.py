"""Finding the databases (and the devices) a node holds, for the DB replicators.

A device is local when the ring names it and its directory is under this node's devices
root; device names are unique in a cluster's rings (as ``stratus ring`` builds them).
The walk lists ``<device>/<kind>/<part>/<suffix>/<hash>/<hash>.db`` in a worker thread,
one device at a time, and skips anything that is not laid out that way.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stratus.objectstore.dbs.dbfile import DbKind
from stratus.objectstore.ring.devices import Device
from stratus.objectstore.ring.ring import Ring

_HASH = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class DbFile:
    partition: int
    name_hash: str


def local_devices(devices_root: Path, ring: Ring) -> list[Device]:
    return [d for d in ring.devices if (devices_root / d.device).is_dir()]


async def db_files(devices_root: Path, device: str, kind: DbKind) -> list[DbFile]:
    return await asyncio.to_thread(_walk, devices_root / device / kind.value)


def _walk(top: Path) -> list[DbFile]:
    found: list[DbFile] = []
    for part in _names(top):
        if not part.isdigit():
            continue
        for suffix in _names(top / part):
            for name_hash in _names(top / part / suffix):
                db = top / part / suffix / name_hash / f"{name_hash}.db"
                if _HASH.fullmatch(name_hash) and name_hash.endswith(suffix) and db.is_file():
                    found.append(DbFile(int(part), name_hash))
    return found


def _names(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []

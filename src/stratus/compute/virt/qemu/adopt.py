"""Finding the instances of this host again when the driver starts (agent restart).

Every directory under the state dir with a ``spec.json`` is an instance of this host,
running or not: its QEMU (found through the pidfile and checked by its ``-uuid``) keeps
running untouched, and the driver answers for it as if it had spawned it. A directory
without a spec is a spawn that died half-way: its process (if any) is killed, its taps
cannot be known and its files are removed.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from stratus.compute.virt.driver import InstanceSpec
from stratus.compute.virt.qemu import process, specfile
from stratus.compute.virt.qemu.paths import InstancePaths

log = logging.getLogger(__name__)

CACHE_DIR = "_base"


async def scan(state_dir: Path) -> dict[str, InstanceSpec]:
    found: dict[str, InstanceSpec] = {}
    for entry in await asyncio.to_thread(_instance_dirs, state_dir):
        paths = InstancePaths(entry)
        try:
            spec = specfile.load(paths.spec)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("qemu: removing %s, an incomplete instance (%s)", entry, exc)
            await process.kill(paths, entry.name)
            await asyncio.to_thread(shutil.rmtree, entry, ignore_errors=True)
            continue
        running = process.read_pid(paths, spec.id) is not None
        log.info("qemu: adopted instance %s (%s)", spec.id, "running" if running else "stopped")
        found[spec.id] = spec
    return found


def _instance_dirs(state_dir: Path) -> list[Path]:
    return sorted(e for e in state_dir.iterdir() if e.is_dir() and e.name != CACHE_DIR)

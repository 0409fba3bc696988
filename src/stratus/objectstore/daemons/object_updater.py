"""The object updater: replays the container updates that missed a container replica.

The proxy queues such an update as an async pending file (``container_updates.py``):
``<device>/async_pending/<suffix>/<hash>-<timestamp>``. Each pass walks every device
under this node's devices root, sends each file's row to every container primary the
ring names now (rows merge newest-wins, so resending to a replica that already has it is
harmless), and deletes the file only once all of them acknowledged (2xx); otherwise it
stays for the next pass. Nothing acknowledged to a client is lost on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from stratus.common.service import Runtime
from stratus.objectstore.daemons.internal_cluster import internal_cluster
from stratus.objectstore.daemons.periodic import PeriodicDaemon
from stratus.objectstore.proxy.backend import backend_path
from stratus.objectstore.proxy.cluster import Cluster

log = logging.getLogger(__name__)

PENDING_DIR = "async_pending"


class PendingUpdate(BaseModel):
    """One queued listing update, as ``container_updates.write_pending`` writes it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: Literal[1]
    op: Literal["PUT", "DELETE"]
    account: str
    container: str
    obj: str
    headers: dict[str, str]


@dataclass
class UpdaterStats:
    sent: int = 0  # files whose update every replica took (now deleted)
    kept: int = 0  # files left for the next pass
    unreadable: int = 0


class PendingUpdates:
    """Drains the async pendings under ``devices_root`` into ``cluster``'s containers."""

    def __init__(self, devices_root: Path, cluster: Cluster) -> None:
        self.devices_root = devices_root
        self.cluster = cluster

    async def run_once(self) -> UpdaterStats:
        stats = UpdaterStats()
        for path in await asyncio.to_thread(pending_files, self.devices_root):
            await self._replay(path, stats)
        log.info("object updater: %s", stats)
        return stats

    async def _replay(self, path: Path, stats: UpdaterStats) -> None:
        try:
            update = PendingUpdate.model_validate_json(await asyncio.to_thread(path.read_bytes))
        except FileNotFoundError:
            return  # another updater got it
        except ValidationError:
            log.error("unreadable async pending %s: left in place", path)
            stats.unreadable += 1
            return
        if await self.send(update):
            await asyncio.to_thread(_remove, path)
            stats.sent += 1
        else:
            stats.kept += 1

    async def send(self, update: PendingUpdate) -> bool:
        """Send the row to every container primary; ``True`` when all of them took it."""
        nodes = self.cluster.container_nodes(update.account, update.container)
        timeout = self.cluster.config.container_update_timeout
        calls = [
            asyncio.wait_for(
                self.cluster.backend.call(
                    dev,
                    backend_path(
                        dev, nodes.partition, update.account, update.container, update.obj
                    ),
                    update.op,
                    update.headers,
                ),
                timeout,
            )
            for dev in nodes.primaries()
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return all(not isinstance(r, BaseException) and r.ok for r in results)


def pending_files(devices_root: Path) -> list[Path]:
    """Every pending file on every device, oldest name first within a suffix."""
    found: list[Path] = []
    for device in _sorted_dirs(devices_root):
        for suffix in _sorted_dirs(device / PENDING_DIR):
            with contextlib.suppress(FileNotFoundError):  # emptied and removed meanwhile
                names = sorted(os.listdir(suffix))
                found += [suffix / n for n in names if not n.startswith(".")]
    return found


def _sorted_dirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the suffix dir, once empty


class ObjectUpdater(PeriodicDaemon):
    name = "object-updater"

    def __init__(self) -> None:
        super().__init__()
        self.updates: PendingUpdates | None = None

    def interval(self, runtime: Runtime) -> float:
        return runtime.settings.objectstore.updater_interval

    async def setup(self, runtime: Runtime) -> None:
        devices_root, _ = runtime.settings.objectstore_dirs()
        self.updates = PendingUpdates(devices_root, internal_cluster(runtime))

    async def run_once(self) -> None:
        assert self.updates is not None, "setup() first"
        await self.updates.run_once()

    async def teardown(self) -> None:
        if self.updates is not None:
            await self.updates.cluster.close()
            self.updates = None

"""The databases a server process has open, each behind its own lock.

A database is used by one worker thread at a time (its connection is not shared between
threads at once, and SQLite serialises writers anyway), so every call goes through
``AsyncDb.call``: the lock is taken and the blocking work runs in ``asyncio.to_thread``.
The work runs in a task of its own, so a client that disconnects cannot release the lock
while its thread is still inside SQLite.

Row updates from the proxy are *group-committed*: rows for one container that arrive
while a transaction is running are merged together in the next one, so a busy container
pays one commit (and one fsync) per batch, not per object.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from stratus.objectstore.dbs.account_broker import AccountBroker
from stratus.objectstore.dbs.broker import Broker
from stratus.objectstore.dbs.container_broker import ContainerBroker
from stratus.objectstore.dbs.dbfile import DbConfig, DbKind, db_hash, locate
from stratus.objectstore.storage.layout import PathHasher

T = TypeVar("T")
R = TypeVar("R")
B = TypeVar("B", bound=Broker)  # type: ignore[type-arg]
MAX_BATCH = 1000


class AsyncDb(Generic[B]):
    """One database for the event loop: serialised calls and batched row merges."""

    def __init__(self, broker: B) -> None:
        self.broker = broker
        self._lock = asyncio.Lock()
        self._pending: list[tuple[object, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def call(self, work: Callable[[B], T]) -> T:
        task = asyncio.ensure_future(self._locked(work))
        return await asyncio.shield(task)

    async def _locked(self, work: Callable[[B], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(work, self.broker)

    async def merge_row(self, row: object) -> None:
        """Merge one row, committed together with whatever else is waiting."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, fut))
        if self._flusher is None:
            self._flusher = asyncio.ensure_future(self._flush())
        await asyncio.shield(fut)

    async def _flush(self) -> None:
        try:
            while self._pending:
                async with self._lock:
                    batch = self._pending[:MAX_BATCH]
                    del self._pending[:MAX_BATCH]
                    rows = [row for row, _ in batch]
                    try:
                        await asyncio.to_thread(self.broker.merge_items, rows)
                    except Exception as exc:
                        for _, fut in batch:
                            fut.set_exception(exc)
                    else:
                        for _, fut in batch:
                            fut.set_result(None)
        finally:
            self._flusher = None

    async def close(self) -> None:
        await self.call(lambda broker: broker.close())


class DbRegistry:
    """Open databases by path, least recently used closed beyond ``config.max_open``."""

    def __init__(self, devices_root: Path, hasher: PathHasher, config: DbConfig) -> None:
        self.devices_root = devices_root
        self.hasher = hasher
        self.config = config
        self._open: OrderedDict[Path, AsyncDb[Broker]] = OrderedDict()  # type: ignore[type-arg]
        self._closing: set[asyncio.Task[None]] = set()

    def container(
        self, device: str, partition: int, account: str, container: str
    ) -> AsyncDb[ContainerBroker]:
        name_hash = db_hash(self.hasher, account, container)
        return self.container_by_hash(device, partition, name_hash)

    def container_by_hash(
        self, device: str, partition: int, name_hash: str
    ) -> AsyncDb[ContainerBroker]:
        loc = locate(self.devices_root, DbKind.CONTAINER, device, partition, name_hash)
        return self._get(loc.path, lambda: ContainerBroker(loc, self.config))

    def account(self, device: str, partition: int, account: str) -> AsyncDb[AccountBroker]:
        return self.account_by_hash(device, partition, db_hash(self.hasher, account))

    def account_by_hash(
        self, device: str, partition: int, name_hash: str
    ) -> AsyncDb[AccountBroker]:
        loc = locate(self.devices_root, DbKind.ACCOUNT, device, partition, name_hash)
        return self._get(loc.path, lambda: AccountBroker(loc, self.config))

    def _get(self, path: Path, make: Callable[[], B]) -> AsyncDb[B]:
        db = self._open.get(path)
        if db is None:
            db = AsyncDb(make())
            self._open[path] = db
            self._evict()
        self._open.move_to_end(path)
        return db  # type: ignore[return-value]

    def _evict(self) -> None:
        while len(self._open) > self.config.max_open:
            _, old = self._open.popitem(last=False)
            task = asyncio.ensure_future(old.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def close_all(self) -> None:
        dbs = list(self._open.values())
        self._open.clear()
        for db in dbs:
            await db.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

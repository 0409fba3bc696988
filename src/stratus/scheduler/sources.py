"""Where the view comes from in a running scheduler: compute's tables."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from stratus.common.db import Database
from stratus.scheduler.groups import add_group_members
from stratus.scheduler.host_state import (
    NODES,
    HostState,
    HostStates,
    HostView,
    host_from_node,
    load_host_states,
)
from stratus.scheduler.request import PlacementRequest
from stratus.scheduler.settings import SchedulerSettings


class DatabaseHosts:
    """Loads the view from compute's tables; one full reload at a time."""

    def __init__(
        self,
        db: Database,
        settings: SchedulerSettings,
        switched_off: Callable[[], Awaitable[frozenset[str]]] | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._switched_off = switched_off
        self._lock = asyncio.Lock()

    async def reload(self, view: HostView, *, unless_loaded_since: float | None = None) -> None:
        """Reload, unless the view was loaded at or after ``unless_loaded_since``
        (``time.monotonic()``): requests that waited for one reload share it."""
        async with self._lock:
            if unless_loaded_since is not None and view.loaded_at >= unless_loaded_since:
                return
            await view.reload(self._load)

    async def _load(self) -> HostStates:
        states = await load_host_states(self._db, self._settings)
        if self._switched_off is not None:
            for name in await self._switched_off():
                host = states.by_name.get(name)
                if host is not None:
                    host.enabled = False
        return states

    async def reload_host(self, view: HostView, name: str) -> None:
        await view.reload_host(name, self._load_one)

    async def _load_one(self, old: HostState) -> HostState | None:
        async with self._db.session() as session:
            query = sa.select(NODES).where(NODES.c.host == old.name)
            node = (await session.execute(query)).first()
        if node is None:
            return None
        return host_from_node(node, self._settings, old.availability_zone, old.aggregate_metadata)

    async def add_group_members(self, req: PlacementRequest) -> None:
        await add_group_members(self._db, req)

"""What every network handler reaches through ``req.service``: one object per process."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stratus.common.asgi.routing import ApiRequest

if TYPE_CHECKING:
    from stratus.common.db import Database
    from stratus.network.settings import NetworkSettings


@dataclass
class NetworkState:
    settings: NetworkSettings
    db: Database
    # held only while in use, so one lock per project ever seen does not pile up
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    def lock(self, key: str) -> asyncio.Lock:
        """One lock per key (a project's quota-checked creates) in this process."""
        found = self._locks.get(key)
        if found is None:
            found = self._locks[key] = asyncio.Lock()
        return found


def state_of(req: ApiRequest) -> NetworkState:
    st = req.service
    assert isinstance(st, NetworkState)
    return st

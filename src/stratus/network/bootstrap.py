"""The network records a new cloud starts with: the shared external network ``public``
(the default one, for floating IPs and auto-allocated topologies), made once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database
from stratus.network import auto_allocate
from stratus.network.retry import retrying
from stratus.network.settings import NetworkSettings


async def ensure_public_network(db: Database, cfg: NetworkSettings, admin_project: str) -> str:
    """The id of ``public``, created owned by the admin project if missing."""

    async def work(session: AsyncSession) -> str:
        return await auto_allocate.ensure_public(session, cfg, admin_project)

    return await retrying(db, work)

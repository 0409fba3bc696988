"""The ``compute-api`` service: Nova v2.1 over compute's tables, casting work to the
conductor (DESIGN.md §2: validate, check quota, write ``BUILD``, answer 202)."""

from __future__ import annotations

import logging

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.asgi.routing import build_router
from stratus.common.db import Database, MigrationSet
from stratus.common.service import CatalogEntry, HttpApi, Runtime
from stratus.compute.api.faults import nova_fault
from stratus.compute.api.images import ImageClient
from stratus.compute.api.microversion import MicroversionMiddleware
from stratus.compute.api.state import ComputeApiState
from stratus.compute.default_flavors import ensure_default_flavors
from stratus.compute.migrations import MIGRATIONS
from stratus.identity.client import RemoteAuthenticator

log = logging.getLogger(__name__)


class ComputeApiService:
    name = "compute-api"
    catalog: tuple[CatalogEntry, ...] = (CatalogEntry(type="compute", name="nova", path="/v2.1"),)

    def __init__(self) -> None:
        self.state: ComputeApiState | None = None
        self._identity: RemoteAuthenticator | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return (MIGRATIONS,)

    async def start(self, runtime: Runtime) -> HttpApi:
        s = runtime.settings
        cfg = s.compute
        db = Database(s.database_url("compute", cfg.database_url), pool_size=s.database.pool_size)
        await db.check()
        if cfg.default_flavors:
            await ensure_default_flavors(db)
        image_url = cfg.image_service_url(s.http.public_host, s.image.port)
        self.state = ComputeApiState(cfg, db, runtime.bus, ImageClient(image_url))
        self._identity = RemoteAuthenticator(runtime.bus, cache_ttl=s.identity.validation_cache_ttl)
        await self._identity.start(runtime.host)
        from stratus.compute.api import all_routes  # noqa: PLC0415 - routes import the models

        router = build_router(
            all_routes(),
            authenticate=self._identity,
            max_body=s.http.max_body_bytes,
            service=self.state,
        )
        app = MicroversionMiddleware(router, render=nova_fault)
        return HttpApi(EdgeMiddleware(app, render=nova_fault), cfg.port)

    async def stop(self) -> None:
        if self.state is not None:
            await self.state.images.close()
            await self.state.db.close()
            self.state = None
        if self._identity is not None:
            await self._identity.stop()
            self._identity = None

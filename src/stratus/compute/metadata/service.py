"""The ``metadata`` service: the metadata API on ``[metadata] port`` (8775). It owns no
tables and holds no database credentials: records come from the conductor over RPC."""

from __future__ import annotations

import logging

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.service import CatalogEntry, HttpApi, Runtime
from stratus.compute.metadata.app import MetadataApp, plain_fault
from stratus.compute.metadata.records import InstanceRecords

log = logging.getLogger(__name__)


class MetadataService:
    name = "metadata"
    catalog: tuple[CatalogEntry, ...] = ()  # guests reach it through the proxy only

    def migrations(self) -> tuple[()]:
        return ()

    async def start(self, runtime: Runtime) -> HttpApi:
        cfg = runtime.settings.metadata
        if not cfg.shared_secret:
            log.warning("[metadata] shared_secret is empty: every request will be refused")
        records = InstanceRecords(runtime.bus, cfg.cache_ttl, cfg.rpc_timeout)
        app = MetadataApp(records, cfg.shared_secret)
        return HttpApi(EdgeMiddleware(app, render=plain_fault), cfg.port)

    async def stop(self) -> None:
        return None

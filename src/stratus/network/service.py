"""The network service: Neutron v2.0 over the network database, and the RPC side its
agents (``network-agent``, one per host) ask for what to build."""

from __future__ import annotations

import logging

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.asgi.routing import build_router
from stratus.common.db import Database, MigrationSet
from stratus.common.rpc import Server
from stratus.common.service import CatalogEntry, HttpApi, Runtime
from stratus.identity.client import RemoteAuthenticator
from stratus.network import bindings, rpc
from stratus.network.agent_rpc import AgentEndpoints, build_dispatcher
from stratus.network.faults import neutron_fault
from stratus.network.migrations import MIGRATIONS
from stratus.network.notify import NotifyAgents
from stratus.network.state import NetworkState

log = logging.getLogger(__name__)


class NetworkService:
    name = "network"
    catalog: tuple[CatalogEntry, ...] = (CatalogEntry(type="network", name="neutron"),)

    def __init__(self) -> None:
        self.state: NetworkState | None = None
        self._identity: RemoteAuthenticator | None = None
        self._server: Server | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return (MIGRATIONS,)

    async def start(self, runtime: Runtime) -> HttpApi:
        s = runtime.settings
        cfg = s.network
        db = Database(s.database_url("network", cfg.database_url), pool_size=s.database.pool_size)
        await db.check()
        self.state = NetworkState(cfg, db)
        self._identity = RemoteAuthenticator(runtime.bus, cache_ttl=s.identity.validation_cache_ttl)
        await self._identity.start(runtime.host)
        endpoints = AgentEndpoints(self.state, runtime.bus)
        dispatcher = build_dispatcher(endpoints)
        bindings.register(dispatcher, self.state, endpoints.notify)  # compute's, same topic
        self._server = await runtime.bus.serve(rpc.TOPIC, dispatcher, host=runtime.host)
        from stratus.network.api import all_routes  # noqa: PLC0415 - routes import the models

        router = build_router(
            all_routes(),
            authenticate=self._identity,
            max_body=s.http.max_body_bytes,
            service=self.state,
        )
        app = NotifyAgents(router, endpoints)
        return HttpApi(EdgeMiddleware(app, render=neutron_fault), cfg.port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self.state is not None:
            await self.state.db.close()
            self.state = None
        if self._identity is not None:
            await self._identity.stop()
            self._identity = None

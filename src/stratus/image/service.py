"""The image service: Glance v2 over a database and the configured stores."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from pathlib import Path

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.asgi.routing import build_router
from stratus.common.db import Database, MigrationSet
from stratus.common.rpc import Dispatcher, Server
from stratus.common.service import CatalogEntry, HttpApi, Runtime
from stratus.identity.client import RemoteAuthenticator
from stratus.image import locate
from stratus.image.faults import glance_fault
from stratus.image.migrations import MIGRATIONS
from stratus.image.rpc import IMAGE_TOPIC
from stratus.image.state import ImageState
from stratus.image.stores import Store
from stratus.image.stores.file import FileStore
from stratus.image.stores.object import ObjectStore, ObjectStoreAccess
from stratus.settings import Settings

log = logging.getLogger(__name__)


class ImageService:
    name = "image"
    catalog: tuple[CatalogEntry, ...] = (CatalogEntry(type="image", name="glance"),)

    def __init__(self) -> None:
        self.state: ImageState | None = None
        self._object: ObjectStore | None = None
        self._identity: RemoteAuthenticator | None = None
        self._server: Server | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return (MIGRATIONS,)

    async def start(self, runtime: Runtime) -> HttpApi:
        s = runtime.settings
        cfg = s.image
        db = Database(s.database_url("image", cfg.database_url), pool_size=s.database.pool_size)
        await db.check()
        staging = Path(cfg.staging_dir or s.state_dir / "images-staging")
        self._object = ObjectStore(object_store_access(s))
        stores: dict[str, Store] = {
            "file": FileStore(Path(cfg.file_store_dir or s.state_dir / "images")),
            "object": self._object,
            "staging": FileStore(staging),
        }
        secret = cfg.ticket_secret.encode() or secrets.token_bytes(32)
        self.state = ImageState(cfg, db, stores, cfg.default_store, staging, secret)
        self._identity = RemoteAuthenticator(runtime.bus, cache_ttl=s.identity.validation_cache_ttl)
        await self._identity.start(runtime.host)
        dispatcher = Dispatcher()
        locate.register(dispatcher, self.state, f"http://{s.http.public_host}:{cfg.port}")
        self._server = await runtime.bus.serve(IMAGE_TOPIC, dispatcher, host=runtime.host)
        from stratus.image.api import all_routes  # noqa: PLC0415 - routes import the models

        router = build_router(
            all_routes(),
            authenticate=self._identity,
            max_body=s.http.max_body_bytes,
            service=self.state,
        )
        return HttpApi(EdgeMiddleware(router, render=glance_fault), cfg.port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self.state is not None:
            for task in list(self.state.tasks):
                task.cancel()
            await asyncio.gather(*self.state.tasks, return_exceptions=True)
            await self.state.db.close()
            self.state = None
        if self._identity is not None:
            await self._identity.stop()
            self._identity = None
        if self._object is not None:
            await self._object.close()
            self._object = None


def object_store_access(s: Settings) -> ObjectStoreAccess:
    """The object backend's endpoint and credentials, defaulting to this cloud's proxy
    and the bootstrap ``service`` user."""
    cfg = s.image
    url = cfg.object_store_auth_url or (
        f"http://{s.http.public_host}:{s.objectstore.proxy_port}/auth/v1.0"
    )
    key = cfg.object_store_key
    secrets_file = s.state_dir / "secrets.json"
    if not key and secrets_file.exists():
        key = str(json.loads(secrets_file.read_text()).get("service_password", ""))
    return ObjectStoreAccess(
        auth_url=url,
        user=cfg.object_store_user,
        key=key,
        container=cfg.object_store_container,
        segment_bytes=cfg.object_segment_bytes,
    )

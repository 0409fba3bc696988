"""The object store's services: the proxy (``object-store``, the Swift API) and the
object, container and account servers, each its own service so that
``stratus serve object-server container-server account-server`` makes a storage node and
``stratus serve object-store`` a proxy node. Every one loads its rings from
``[objectstore].ring_dir``; ``stratus up`` builds them first (``allinone.prepare``).
"""

from __future__ import annotations

from pathlib import Path

from stratus.common.db import MigrationSet
from stratus.common.service import CatalogEntry, HttpApi, Runtime
from stratus.identity.client import RemoteAuthenticator
from stratus.objectstore.dbs.account_server import create_account_server
from stratus.objectstore.dbs.account_updates import AccountReporter, RingAccountLocator
from stratus.objectstore.dbs.container_server import create_container_server
from stratus.objectstore.dbs.dbfile import DbConfig
from stratus.objectstore.dbs.registry import DbRegistry
from stratus.objectstore.keystone_auth import KeystoneAuth
from stratus.objectstore.proxy.app import create_proxy
from stratus.objectstore.proxy.cluster import Cluster, ProxyConfig
from stratus.objectstore.proxy.placement import Rings
from stratus.objectstore.ring import RingLoader
from stratus.objectstore.storage.config import DiskConfig
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.layout import PathHasher

RING_KINDS = ("account", "container", "object")


def ring_loader(runtime: Runtime, kind: str) -> RingLoader:
    _, ring_dir = runtime.settings.objectstore_dirs()
    interval = runtime.settings.objectstore.ring_check_interval
    return RingLoader(ring_dir / f"{kind}.ring", check_interval=interval)


def hasher_of(loader: RingLoader) -> PathHasher:
    """The cluster's name hash secret, as the ring carries it."""
    ring = loader.ring
    return PathHasher(ring.hash_prefix.encode(), ring.hash_suffix.encode())


def _port(runtime: Runtime, name: str) -> int:
    return runtime.settings.objectstore.port_of(name)


def _devices_root(runtime: Runtime) -> Path:
    return runtime.settings.objectstore_dirs()[0]


def pending_device(devices_root: Path) -> Path | None:
    """Where this node queues the container updates its servers missed: its first device
    (the object updater drains every local device). A proxy-only node has none."""
    try:
        devices = sorted(p for p in devices_root.iterdir() if p.is_dir())
    except FileNotFoundError:
        return None
    return devices[0] if devices else None


class ObjectServerService:
    name = "object-server"
    catalog: tuple[CatalogEntry, ...] = ()

    def migrations(self) -> tuple[MigrationSet, ...]:
        return ()

    async def start(self, runtime: Runtime) -> HttpApi:
        from stratus.objectstore.storage.object_server import (  # noqa: PLC0415 - on demand
            create_object_server,
        )

        cfg = runtime.settings.objectstore
        disk = DiskFileManager(
            _devices_root(runtime),
            hasher=hasher_of(ring_loader(runtime, "object")),
            config=DiskConfig(
                fsync=cfg.fsync, reclaim_age=cfg.reclaim_age, direct_io=cfg.direct_io
            ),
        )
        return HttpApi(create_object_server(disk), _port(runtime, self.name))

    async def stop(self) -> None:
        return None


class ContainerServerService:
    name = "container-server"
    catalog: tuple[CatalogEntry, ...] = ()

    def __init__(self) -> None:
        self._registry: DbRegistry | None = None
        self._reporter: AccountReporter | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return ()

    async def start(self, runtime: Runtime) -> HttpApi:
        cfg = runtime.settings.objectstore
        hasher = hasher_of(ring_loader(runtime, "container"))
        accounts = ring_loader(runtime, "account")
        self._registry = DbRegistry(_devices_root(runtime), hasher, DbConfig(fsync=cfg.fsync))
        self._reporter = AccountReporter(RingAccountLocator(lambda: accounts.ring))
        app = create_container_server(self._registry, self._reporter)
        return HttpApi(app, _port(runtime, self.name))

    async def stop(self) -> None:
        if self._reporter is not None:
            await self._reporter.close()
            self._reporter = None
        if self._registry is not None:
            await self._registry.close_all()
            self._registry = None


class AccountServerService:
    name = "account-server"
    catalog: tuple[CatalogEntry, ...] = ()

    def __init__(self) -> None:
        self._registry: DbRegistry | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return ()

    async def start(self, runtime: Runtime) -> HttpApi:
        cfg = runtime.settings.objectstore
        hasher = hasher_of(ring_loader(runtime, "account"))
        self._registry = DbRegistry(_devices_root(runtime), hasher, DbConfig(fsync=cfg.fsync))
        return HttpApi(create_account_server(self._registry), _port(runtime, self.name))

    async def stop(self) -> None:
        if self._registry is not None:
            await self._registry.close_all()
            self._registry = None


class ObjectStoreService:
    """The proxy: the Swift API, authenticated by identity over the bus."""

    name = "object-store"
    catalog: tuple[CatalogEntry, ...] = (
        CatalogEntry(type="object-store", name="swift", path="/v1/AUTH_%(project_id)s"),
    )

    def __init__(self) -> None:
        self._identity: RemoteAuthenticator | None = None
        self._cluster: Cluster | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return ()

    async def start(self, runtime: Runtime) -> HttpApi:
        s = runtime.settings
        port = _port(runtime, self.name)
        loaders = {kind: ring_loader(runtime, kind) for kind in RING_KINDS}
        rings = Rings(
            lambda: loaders["object"].ring,
            lambda: loaders["container"].ring,
            lambda: loaders["account"].ring,
        )
        self._identity = identity = RemoteAuthenticator(
            runtime.bus, cache_ttl=s.identity.validation_cache_ttl
        )
        await identity.start(runtime.host)
        auth = KeystoneAuth(identity, f"http://{s.http.public_host}:{port}")
        config = ProxyConfig(pending_device=pending_device(_devices_root(runtime)))
        app, self._cluster = create_proxy(rings, auth, config, v1_auth=auth)
        return HttpApi(app, port)

    async def stop(self) -> None:
        if self._cluster is not None:
            await self._cluster.close()
            self._cluster = None
        if self._identity is not None:
            await self._identity.stop()
            self._identity = None

"""A whole Swift cluster on loopback for the proxy's integration tests.

Four storage nodes (each a tmp dir with one device ``d<i>`` and its own object, container
and account server on free ports), 3-replica rings built with ``RingBuilder`` over the
four devices, and the proxy running with ``NoAuth``. Every server runs on one event loop
in a background thread, so tests drive the cluster with blocking clients
(python-swiftclient, ``httpx.Client``) and can stop and restart any server mid-test.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

from cloudproc import free_port
from stratus.objectstore.dbs.account_server import create_account_server
from stratus.objectstore.dbs.account_updates import AccountReporter, RingAccountLocator
from stratus.objectstore.dbs.container_server import create_container_server
from stratus.objectstore.dbs.dbfile import DbConfig
from stratus.objectstore.dbs.registry import DbRegistry
from stratus.objectstore.proxy.app import create_proxy
from stratus.objectstore.proxy.auth import NoAuth
from stratus.objectstore.proxy.cluster import Cluster, ProxyConfig
from stratus.objectstore.proxy.placement import Rings
from stratus.objectstore.ring import Ring, RingBuilder
from stratus.objectstore.storage.config import DiskConfig
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.layout import PathHasher
from stratus.objectstore.storage.object_server import create_object_server

T = TypeVar("T")
NODES = 4
REPLICAS = 3
PREFIX, SUFFIX = "pre", "suf"
HASHER = PathHasher(PREFIX.encode(), SUFFIX.encode())
KINDS = ("object", "container", "account")


def reserve_port() -> int:
    return free_port()


class Served:
    """One uvicorn server on a fixed port that can be stopped and started again."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None
        self.sock: socket.socket | None = None

    async def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            http="httptools",
            timeout_graceful_shutdown=2,
        )
        self.server, self.sock = uvicorn.Server(config), sock
        self.task = asyncio.create_task(self.server.serve(sockets=[sock]))
        while not self.server.started:
            assert not self.task.done(), "server failed to start"
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is None or self.task is None:
            return
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)
        assert self.sock is not None
        self.sock.close()
        self.server = self.task = self.sock = None


def build_ring(ports: list[int]) -> Ring:
    builder = RingBuilder(6, REPLICAS, 0, hash_prefix=PREFIX, hash_suffix=SUFFIX)
    for i, port in enumerate(ports):
        builder.add_device(region=1, zone=i, ip="127.0.0.1", port=port, device=f"d{i}", weight=1)
    builder.rebalance()
    return builder.to_ring()


@dataclass
class SwiftCluster:
    root: Path
    loop: asyncio.AbstractEventLoop
    rings: dict[str, Ring]
    servers: dict[str, list[Served]]
    proxy_port: int
    cluster: Cluster | None = None
    registries: list[DbRegistry] = field(default_factory=list)
    reporters: list[AccountReporter] = field(default_factory=list)
    proxy: Served | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def storage_url(self, account: str = "AUTH_test") -> str:
        return f"{self.url}/v1/{account}"

    def device(self, i: int) -> Path:
        return self.root / f"node{i}" / f"d{i}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self, kind: str, i: int) -> None:
        self.run(self.servers[kind][i].stop())

    def start(self, kind: str, i: int) -> None:
        self.run(self.servers[kind][i].start())

    def primaries(self, kind: str, *names: str) -> list[int]:
        """Node numbers holding ``names`` on the ``kind`` ring (device id = node)."""
        ring = self.rings[kind]
        return [d.id for d in ring.primaries(ring.partition(*names))]

    def handoffs(self, kind: str, *names: str) -> list[int]:
        ring = self.rings[kind]
        return [d.id for d in ring.handoffs(ring.partition(*names))]

    def data_files(self) -> list[Path]:
        return [p for i in range(NODES) for p in (self.device(i) / "objects").rglob("*.data")]

    def tmp_files(self) -> list[Path]:
        return [p for i in range(NODES) for p in (self.device(i) / "tmp").glob("*")]

    def pending_files(self) -> list[Path]:
        return [p for p in (self.device(0) / "async_pending").rglob("*") if p.is_file()]


async def _start(c: SwiftCluster) -> None:
    for i in range(NODES):
        (c.device(i)).mkdir(parents=True)
    await asyncio.gather(*(served.start() for kind in KINDS for served in c.servers[kind]))
    assert c.proxy is not None
    await c.proxy.start()


async def _stop(c: SwiftCluster) -> None:
    if c.proxy is not None:
        await c.proxy.stop()
    if c.cluster is not None:  # its pooled connections would hold the servers' shutdown
        await c.cluster.close()
    await asyncio.gather(*(served.stop() for kind in KINDS for served in c.servers[kind]))
    for reporter in c.reporters:
        await reporter.close()
    for registry in c.registries:
        await registry.close_all()


def _make_apps(c: SwiftCluster, ports: dict[str, list[int]]) -> None:
    db = DbConfig(fsync=False)
    disk = DiskConfig(fsync=False)
    for i in range(NODES):
        node_root = c.root / f"node{i}"
        accounts = DbRegistry(node_root, HASHER, db)
        containers = DbRegistry(node_root, HASHER, db)
        reporter = AccountReporter(RingAccountLocator(lambda: c.rings["account"]), delay=0.05)
        c.registries += [accounts, containers]
        c.reporters.append(reporter)
        apps: dict[str, ASGIApp] = {
            "object": create_object_server_app(node_root, disk),
            "container": create_container_server(containers, reporter),
            "account": create_account_server(accounts),
        }
        for kind in KINDS:
            c.servers[kind].append(Served(apps[kind], ports[kind][i]))


def create_object_server_app(node_root: Path, disk: DiskConfig) -> ASGIApp:
    return create_object_server(
        DiskFileManager(node_root, hasher=HASHER, config=disk), client_timeout=5
    )


@contextmanager
def swift_cluster(root: Path, **config: Any) -> Iterator[SwiftCluster]:
    """Start everything; stop every server and remove ``root`` on the way out."""
    ports = {kind: [reserve_port() for _ in range(NODES)] for kind in KINDS}
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    rings = {kind: build_ring(ports[kind]) for kind in KINDS}
    c = SwiftCluster(root, loop, rings, {k: [] for k in KINDS}, reserve_port())
    try:
        _make_apps(c, ports)
        settings = ProxyConfig(**{"pending_device": c.device(0), "error_limit": 1000, **config})
        proxy_rings = Rings(
            lambda: rings["object"], lambda: rings["container"], lambda: rings["account"]
        )
        app, c.cluster = create_proxy(proxy_rings, NoAuth(), settings)
        c.proxy = Served(app, c.proxy_port)
        c.run(_start(c))
        yield c
    finally:
        try:
            c.run(_stop(c))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            shutil.rmtree(root, ignore_errors=True)

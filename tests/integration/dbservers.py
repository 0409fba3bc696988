"""Container and account servers on free loopback ports for the integration tests."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from stratus.objectstore.dbs.account_server import create_account_server
from stratus.objectstore.dbs.account_updates import AccountReporter, AccountTarget
from stratus.objectstore.dbs.container_server import create_container_server
from stratus.objectstore.dbs.dbfile import DbConfig
from stratus.objectstore.dbs.registry import DbRegistry
from stratus.objectstore.storage.layout import PathHasher

HASHER = PathHasher(b"pre", b"suf")


def now() -> str:
    return f"{time.time():.5f}"


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", http="httptools")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "server failed to start"
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@dataclass
class StaticLocator:
    """Every account lives on one device of one account server."""

    target: AccountTarget

    def locate(self, account: str) -> list[AccountTarget]:
        return [self.target]


@dataclass
class Servers:
    container_url: str
    account_url: str
    account_port: int
    root: Path


@asynccontextmanager
async def db_servers(root: Path, *, report_delay: float = 0.05) -> AsyncIterator[Servers]:
    """An account server, then a container server reporting to it (device ``sda``)."""
    (root / "sda").mkdir(parents=True, exist_ok=True)
    config = DbConfig(fsync=False)
    accounts = DbRegistry(root, HASHER, config)
    containers = DbRegistry(root, HASHER, config)
    async with serve(create_account_server(accounts)) as account_port:
        target = AccountTarget("127.0.0.1", account_port, "sda", 0)
        reporter = AccountReporter(StaticLocator(target), delay=report_delay)
        async with serve(create_container_server(containers, reporter)) as port:
            try:
                yield Servers(
                    f"http://127.0.0.1:{port}",
                    f"http://127.0.0.1:{account_port}",
                    account_port,
                    root,
                )
            finally:
                await reporter.close()
                await containers.close_all()
                await accounts.close_all()

"""Runs a set of services in one process and one event loop.

Used by both ``stratus up`` (every service, SQLite, in-process bus) and ``stratus serve``
(chosen services, a shared SQL server, RabbitMQ): one code path for both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn

from stratus import services
from stratus.cli.sockets import bind
from stratus.common import rpc
from stratus.common.db import Database, MigrationSet, upgrade
from stratus.common.service import HttpApi, Runtime, Service
from stratus.registry.reporter import HeartbeatReporter
from stratus.settings import Settings

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Young-generation collections every GC_YOUNG allocations instead of CPython's 700: a
# served request allocates hundreds of short-lived objects, and with the default a small
# object-store request paid for several collections (about 6 % of its CPU, measured).
GC_YOUNG = 20_000


@dataclass
class Process:
    """The services of this process and what they started."""

    settings: Settings
    names: tuple[str, ...]
    services: list[Service] = field(default_factory=list)
    servers: list[uvicorn.Server] = field(default_factory=list)
    reporters: list[HeartbeatReporter] = field(default_factory=list)
    sockets: dict[str, socket.socket] = field(default_factory=dict)
    runtime: Runtime | None = None

    def http_port(self, name: str) -> int:
        return self.sockets[name].getsockname()[1]  # type: ignore[no-any-return]


async def service_databases(
    settings: Settings, names: tuple[str, ...]
) -> AsyncGenerator[tuple[str, MigrationSet, Database]]:
    """Each chosen service's migration sets with a checked connection to its database.

    A set's database is that of the service owning the tables (``mig.service``), which may
    not be the service running them: the scheduler brings compute's tables.
    """
    for name in names:
        for mig in services.create(name).migrations():
            owner = mig.service
            override = getattr(getattr(settings, owner, None), "database_url", "")
            db = Database(settings.database_url(owner, override))
            try:
                await db.check()
                yield name, mig, db
            finally:
                await db.close()


async def migrate(settings: Settings, names: tuple[str, ...]) -> list[str]:
    """Run each chosen service's migrations; return the services whose tables changed."""
    async with contextlib.aclosing(service_databases(settings, names)) as dbs:
        return [name async for name, mig, db in dbs if await upgrade(db, mig)]


def bind_ports(proc: Process, ports: dict[str, int]) -> None:
    """Bind every HTTP port first: a port in use must fail before anything starts."""
    host = proc.settings.http.bind_host
    try:
        for name, port in ports.items():
            proc.sockets[name] = bind(host, port)
    except Exception:
        close_sockets(proc)
        raise


def close_sockets(proc: Process) -> None:
    for sock in proc.sockets.values():
        sock.close()
    proc.sockets.clear()


def settle_heap() -> None:
    """Call once the services run: what startup built (modules, settings, rings, pools)
    lives as long as the process, so it is moved out of the collector's sight, and young
    collections are made rarer. Full collections then walk only what requests made."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, middle, old)


async def start(
    proc: Process, on_started: Callable[[Process], Awaitable[None]] | None = None
) -> None:
    s = proc.settings
    bus = await rpc.connect_from_settings(s.bus)
    proc.runtime = runtime = Runtime(settings=s, bus=bus, host=s.host)
    for name in proc.names:
        service = services.create(name)
        api = await service.start(runtime)
        proc.services.append(service)
        if api is not None:
            await serve_http(proc, name, api)
        if getattr(service, "own_heartbeats", False):
            continue  # e.g. compute agents: one heartbeat per simulated host, not per process
        await report_heartbeats(proc, (name,))
    if on_started is not None:
        await on_started(proc)


async def report_heartbeats(proc: Process, names: tuple[str, ...]) -> None:
    """Report these services to the registry from this process (for ``stratus up``, also
    the storage servers its worker processes run)."""
    assert proc.runtime is not None
    s = proc.settings
    for name in names:
        reporter = HeartbeatReporter(
            proc.runtime.bus, s.host, f"stratus-{name}", name, s.registry.heartbeat_interval
        )
        await reporter.start()
        proc.reporters.append(reporter)


async def serve_http(proc: Process, name: str, api: HttpApi) -> None:
    sock = proc.sockets.get(name)
    if sock is None:
        sock = proc.sockets[name] = bind(proc.settings.http.bind_host, api.port)
    config = uvicorn.Config(
        api.app,
        http="httptools",
        loop="none",
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=proc.settings.http.keep_alive_timeout,
        timeout_graceful_shutdown=2,
        backlog=2048,
    )
    config.load()
    server = uvicorn.Server(config)
    # Server.serve() sets this before startup(); we call startup() on our own loop instead.
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    proc.servers.append(server)


async def stop(proc: Process) -> None:
    """Stop in reverse order; every step bounded so the whole stop takes a few seconds."""
    for reporter in proc.reporters:
        await reporter.stop()
    for server in reversed(proc.servers):
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.shutdown(), timeout=3)
    for service in reversed(proc.services):
        try:
            await asyncio.wait_for(service.stop(), timeout=3)
        except Exception:
            log.exception("stopping %s failed", service.name)
    if proc.runtime is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.runtime.bus.close(), timeout=2)
    close_sockets(proc)


async def wait_for_stop_signal() -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)

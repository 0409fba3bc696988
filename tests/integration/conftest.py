"""Real servers for integration tests: RabbitMQ, PostgreSQL and MariaDB.

Addresses (admin credentials) come from the environment, with local defaults:
``STRATUS_TEST_AMQP_URL``, ``STRATUS_TEST_POSTGRES_URL``, ``STRATUS_TEST_MARIADB_URL``.
An unreachable server skips its tests, except with ``CI=true``, where it fails them.

- ``postgres_url`` / ``mariadb_url``: a fresh, uniquely named database (SQLAlchemy async
  URL), dropped after the test;
- ``amqp_url``: the broker URL; ``amqp_exchange``: a unique exchange/queue prefix for the
  test; everything named with this run's prefix is deleted at the end of the session
  (listed with ``rabbitmqctl``, so it needs the broker on this machine);
- ``amqp_drop_connections``: closes this test's broker connections, as a broker
  restart or network cut would.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import aio_pika
import aiomysql
import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

AMQP_URL = os.environ.get("STRATUS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES_URL = os.environ.get(
    "STRATUS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_URL = os.environ.get("STRATUS_TEST_MARIADB_URL", "mysql+aiomysql://root@127.0.0.1:3306/")
CONNECT_TIMEOUT = 5.0

T = TypeVar("T")

RUN_ID = uuid.uuid4().hex[:8]
_counter = itertools.count(1)


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when ``CI=true`` (CI must run every integration test)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: integration servers are required)", pytrace=False)
    pytest.skip(reason)


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run admin work on a private loop in a thread, so that sync and async tests and
    fixtures alike can use these fixtures (even from inside a running event loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def unique_name(kind: str) -> str:
    return f"stratus_test_{RUN_ID}_{next(_counter)}_{kind}"


# ---- PostgreSQL -------------------------------------------------------------------------


async def _pg_admin(admin: URL) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=admin.host,
            port=admin.port or 5432,
            user=admin.username or "postgres",
            password=admin.password,
            database=admin.database or "postgres",
            timeout=CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {admin.host}:{admin.port} unreachable: {exc!r}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = make_url(POSTGRES_URL)
    name = unique_name("pg")
    run_isolated(_pg_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        run_isolated(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg_execute(admin: URL, sql: str) -> None:
    conn = await _pg_admin(admin)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# ---- MariaDB ----------------------------------------------------------------------------


async def _mariadb_admin(admin: URL) -> aiomysql.Connection:
    try:
        return await aiomysql.connect(
            host=admin.host or "127.0.0.1",
            port=admin.port or 3306,
            user=admin.username or "root",
            password=admin.password or "",
            connect_timeout=CONNECT_TIMEOUT,
            autocommit=True,
        )
    except (OSError, TimeoutError, aiomysql.Error) as exc:
        unavailable(f"MariaDB at {admin.host}:{admin.port} unreachable: {exc!r}")


async def _mariadb_execute(admin: URL, sql: str) -> None:
    conn = await _mariadb_admin(admin)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    admin = make_url(MARIADB_URL)
    name = unique_name("my")
    run_isolated(_mariadb_execute(admin, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        run_isolated(_mariadb_execute(admin, f"DROP DATABASE IF EXISTS `{name}`"))


# ---- RabbitMQ ---------------------------------------------------------------------------


def _amqp_reachable() -> str | None:
    parsed = urlsplit(AMQP_URL)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5672
    try:
        with socket.create_connection((host, port), CONNECT_TIMEOUT):
            return None
    except OSError as exc:
        return f"RabbitMQ at {host}:{port} unreachable: {exc!r}"


@pytest.fixture(scope="session")
def _amqp_run_prefix() -> Iterator[str]:
    prefix = f"stratus-test-{RUN_ID}"
    yield prefix
    _sweep_amqp(prefix)


@pytest.fixture
def amqp_url(_amqp_run_prefix: str) -> str:
    problem = _amqp_reachable()
    if problem:
        unavailable(problem)
    return AMQP_URL


@pytest.fixture
def amqp_exchange(amqp_url: str, _amqp_run_prefix: str) -> str:
    """A prefix for the test's exchanges and queues (``BusSettings.exchange``)."""
    return f"{_amqp_run_prefix}-{next(_counter)}"


def _rabbitmqctl(*args: str) -> list[str]:
    out = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.splitlines()


def _sweep_amqp(prefix: str) -> None:
    """Delete every queue and exchange whose name starts with ``prefix``."""
    if shutil.which("rabbitmqctl") is None or _amqp_reachable():
        return
    queues = [n for n in _rabbitmqctl("list_queues", "name") if n.startswith(prefix)]
    exchanges = [n for n in _rabbitmqctl("list_exchanges", "name") if n.startswith(prefix)]
    if queues or exchanges:
        run_isolated(_delete_amqp(queues, exchanges))


async def _delete_amqp(queues: list[str], exchanges: list[str]) -> None:
    conn = await aio_pika.connect(AMQP_URL, timeout=CONNECT_TIMEOUT)
    async with conn:
        channel = await conn.channel()
        for name in queues:
            await channel.queue_delete(name)
        for name in exchanges:
            await channel.exchange_delete(name)


@pytest.fixture
def amqp_drop_connections() -> Callable[[str], Awaitable[int]]:
    """``await drop(prefix)`` closes the connections of buses using exchange ``prefix``."""
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl is needed to drop broker connections")

    async def drop(prefix: str) -> int:
        lines = await asyncio.to_thread(
            _rabbitmqctl, "list_connections", "pid", "client_properties"
        )
        pids = [line.split("\t", 1)[0] for line in lines if f"stratus {prefix} " in line]
        for pid in pids:
            await asyncio.to_thread(_rabbitmqctl, "close_connection", pid, "test")
        return len(pids)

    return drop

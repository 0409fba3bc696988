"""The registry on SQLite, PostgreSQL and MariaDB, driven over the in-process bus."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from stratus.common.db import Database, upgrade
from stratus.common.errors import NotFound, Unavailable
from stratus.common.rpc import Bus, connect
from stratus.common.service import Runtime
from stratus.registry.migrations import MIGRATIONS
from stratus.registry.records import ServiceRecords
from stratus.registry.rpc import (
    TOPIC,
    DeleteService,
    Heartbeat,
    ListServices,
    ServiceInfo,
    SetServiceState,
)
from stratus.registry.service import RegistryService
from stratus.settings import Settings

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
DOWN_AFTER = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'registry.sqlite'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def migrated_url(db_url: str) -> str:
    db = Database(db_url)
    try:
        await upgrade(db, MIGRATIONS)
    finally:
        await db.close()
    return db_url


@pytest.fixture
def clock() -> Clock:
    return Clock()


def runtime(bus: Bus, url: str, tmp_path: Path) -> Runtime:
    settings = Settings(
        state_dir=tmp_path,
        host="controller",
        registry={"database_url": url, "down_after": DOWN_AFTER},
    )
    return Runtime(settings=settings, bus=bus, host="controller")


@pytest.fixture
async def bus(migrated_url: str, clock: Clock, tmp_path: Path) -> AsyncIterator[Bus]:
    """A bus with the registry service serving on it."""
    async with await connect(f"memory://{uuid.uuid4().hex}", call_timeout=10) as bus:
        service = RegistryService(clock=clock)
        await service.start(runtime(bus, migrated_url, tmp_path))
        try:
            yield bus
        finally:
            await service.stop()


async def services(bus: Bus, **filters: str) -> dict[tuple[str, str], ServiceInfo]:
    listing = await bus.call(TOPIC, ListServices(**filters))
    return {(s.host, s.binary): s for s in listing.services}


async def eventually(bus: Bus, check: Callable[[dict[tuple[str, str], ServiceInfo]], bool]) -> None:
    async with asyncio.timeout(5):
        while not check(await services(bus)):
            await asyncio.sleep(0.01)


def beat(host: str, binary: str, version: str = "1.0") -> Heartbeat:
    return Heartbeat(host=host, binary=binary, topic="compute", software_version=version)


async def test_heartbeats_create_then_update_the_record(bus: Bus, clock: Clock) -> None:
    await bus.cast(TOPIC, beat("node1", "stratus-compute-agent"))
    await eventually(bus, lambda s: ("node1", "stratus-compute-agent") in s)
    clock.advance(10)
    await bus.cast(TOPIC, beat("node1", "stratus-compute-agent", version="1.1"))
    key = ("node1", "stratus-compute-agent")
    await eventually(bus, lambda s: s[key].report_count == 2)
    record = (await services(bus))[key]
    assert (record.topic, record.version) == ("compute", "1.1")
    assert record.created_at == T0
    assert record.last_seen == T0 + dt.timedelta(seconds=10)
    assert record.up and not record.disabled and not record.forced_down


async def test_up_and_down_follow_down_after(bus: Bus, clock: Clock) -> None:
    await bus.cast(TOPIC, beat("node1", "a"))
    await eventually(bus, lambda s: ("node1", "a") in s)
    clock.advance(DOWN_AFTER / 2)
    await bus.cast(TOPIC, beat("node2", "a"))
    await eventually(bus, lambda s: ("node2", "a") in s)
    clock.advance(DOWN_AFTER / 2 + 1)
    listed = await services(bus)
    assert not listed["node1", "a"].up
    assert listed["node2", "a"].up


async def test_list_filters_by_host_and_binary(bus: Bus) -> None:
    for host, binary in [("n1", "a"), ("n1", "b"), ("n2", "a")]:
        await bus.cast(TOPIC, beat(host, binary))
    await eventually(bus, lambda s: len(s) == 3)
    assert set(await services(bus, host="n1")) == {("n1", "a"), ("n1", "b")}
    assert set(await services(bus, binary="a")) == {("n1", "a"), ("n2", "a")}
    assert set(await services(bus, host="n2", binary="b")) == set()


async def test_set_service_state_disables_enables_and_forces_down(bus: Bus) -> None:
    await bus.cast(TOPIC, beat("node1", "agent"))
    await eventually(bus, lambda s: ("node1", "agent") in s)

    off = await bus.call(
        TOPIC,
        SetServiceState(host="node1", binary="agent", disabled=True, disabled_reason="maint"),
    )
    assert (off.disabled, off.disabled_reason, off.up) == (True, "maint", True)
    down = await bus.call(TOPIC, SetServiceState(host="node1", binary="agent", forced_down=True))
    assert (down.forced_down, down.up, down.disabled_reason) == (True, False, "maint")
    on = await bus.call(
        TOPIC, SetServiceState(host="node1", binary="agent", disabled=False, forced_down=False)
    )
    assert (on.disabled, on.disabled_reason, on.forced_down, on.up) == (False, None, False, True)
    assert (await services(bus))["node1", "agent"] == on


async def test_set_state_of_unknown_service_is_not_found(bus: Bus) -> None:
    with pytest.raises(NotFound) as caught:
        await bus.call(TOPIC, SetServiceState(host="ghost", binary="agent", disabled=True))
    assert caught.value.code == "registry.service.not_found"


async def test_delete_forgets_a_service_until_it_beats_again(bus: Bus) -> None:
    await bus.cast(TOPIC, beat("node1", "agent"))
    await bus.cast(TOPIC, beat("node1", "other"))
    await eventually(bus, lambda s: len(s) == 2)
    gone = await bus.call(TOPIC, DeleteService(host="node1", binary="agent"))
    assert (gone.host, gone.binary) == ("node1", "agent")
    assert set(await services(bus)) == {("node1", "other")}
    with pytest.raises(NotFound) as caught:
        await bus.call(TOPIC, DeleteService(host="node1", binary="agent"))
    assert caught.value.code == "registry.service.not_found"
    await bus.cast(TOPIC, beat("node1", "agent"))
    await eventually(bus, lambda s: ("node1", "agent") in s)
    assert (await services(bus))["node1", "agent"].id != gone.id


async def test_concurrent_first_heartbeats_make_one_record(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        records = ServiceRecords(db, DOWN_AFTER)
        await asyncio.gather(*(records.heartbeat(beat("racer", "agent")) for _ in range(10)))
        [record] = await records.find(host="racer")
        assert record.report_count == 10
    finally:
        await db.close()


async def test_start_refuses_tables_that_are_not_migrated(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}"
    async with await connect(f"memory://{uuid.uuid4().hex}") as bus:
        with pytest.raises(Unavailable) as caught:
            await RegistryService().start(runtime(bus, url, tmp_path))
    assert caught.value.code == "db.not_migrated"

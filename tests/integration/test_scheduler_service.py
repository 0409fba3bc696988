"""The scheduler service over the in-process bus on real compute tables (SQLite, and
PostgreSQL and MariaDB where they run): concurrent claims, releases, groups, retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from stratus.common.db import Database, upgrade
from stratus.common.db.types import utcnow
from stratus.common.rpc import Bus, connect
from stratus.common.service import Runtime
from stratus.compute.migrations import MIGRATIONS
from stratus.compute.models import Aggregate, ComputeNode, Instance, ResourceClaim, ServerGroup
from stratus.registry.migrations import MIGRATIONS as REGISTRY_MIGRATIONS
from stratus.registry.rpc import TOPIC as REGISTRY_TOPIC
from stratus.registry.rpc import Heartbeat, ListServices, SetServiceState
from stratus.registry.service import RegistryService
from stratus.scheduler.rpc import (
    SCHEDULER_TOPIC,
    HostsChanged,
    ReleaseClaim,
    RequestSpec,
    ResizeClaim,
    SelectHosts,
    Selection,
)
from stratus.scheduler.service import SchedulerService
from stratus.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'compute.sqlite'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await upgrade(database, MIGRATIONS)
    try:
        yield database
    finally:
        await database.close()


class Cloud:
    """Compute's tables plus scheduler services on one in-process bus."""

    def __init__(self, db: Database, tmp_path: Path, stack: AsyncExitStack) -> None:
        self.db = db
        self._tmp_path = tmp_path
        self._stack = stack
        self.bus: Bus | None = None

    async def add_host(
        self,
        name: str,
        *,
        vcpus: int = 4,
        memory_mb: int = 2048,
        local_gb: int = 40,
        **fields: object,
    ) -> None:
        row: dict[str, object] = {"last_seen": utcnow(), **fields}
        async with self.db.session() as session:
            session.add(
                ComputeNode(
                    host=name,
                    hypervisor_hostname=name,
                    hypervisor_type="fake",
                    vcpus=vcpus,
                    memory_mb=memory_mb,
                    local_gb=local_gb,
                    **row,
                )
            )

    async def start_scheduler(self, host: str = "sched-1", **scheduler: object) -> SchedulerService:
        if self.bus is None:
            self.bus = await connect(f"memory://sched-{uuid.uuid4().hex}")
            self._stack.push_async_callback(self.bus.close)
        settings = Settings(
            state_dir=self._tmp_path, host=host, database={"url": self.db.url}, scheduler=scheduler
        )
        service = SchedulerService()
        await service.start(Runtime(settings=settings, bus=self.bus, host=host))
        self._stack.push_async_callback(service.stop)
        return service

    async def select(self, ids: list[str], **fields: object) -> Selection:
        assert self.bus is not None
        spec = RequestSpec.model_validate(
            {
                "instance_ids": ids,
                "project_id": "p",
                "vcpus": 1,
                "memory_mb": 1024,
                "disk_gb": 10,
                **fields,
            }
        )
        return await self.bus.call(SCHEDULER_TOPIC, SelectHosts(spec=spec))

    async def used(self) -> dict[str, tuple[int, int, int]]:
        async with self.db.session() as session:
            nodes = (await session.scalars(sa.select(ComputeNode))).all()
        return {n.host: (n.vcpus_used, n.memory_mb_used, n.local_gb_used) for n in nodes}

    async def claims(self) -> Counter[str]:
        async with self.db.session() as session:
            hosts = await session.scalars(sa.select(ResourceClaim.host))
            return Counter(hosts.all())


@pytest.fixture
async def cloud(db: Database, tmp_path: Path) -> AsyncIterator[Cloud]:
    async with AsyncExitStack() as stack:
        yield Cloud(db, tmp_path, stack)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for a cast to take effect (bounded, so a bug fails instead of hanging)."""
    for _ in range(1000):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_concurrent_requests_never_overbook(cloud: Cloud) -> None:
    for name in ("c1", "c2", "c3"):
        await cloud.add_host(name)  # 2048 MiB * 1.5: three 1 GiB instances each
    await cloud.start_scheduler()
    answers = await asyncio.gather(*(cloud.select([f"i-{n}"]) for n in range(50)))
    placed = Counter(host for a in answers for host in a.hosts.values())
    assert placed == {"c1": 3, "c2": 3, "c3": 3}
    refused = [a for a in answers if not a.hosts]
    assert len(refused) == 41
    assert all(a.reason == "No valid host: 3 hosts; RamFilter removed 3 (0 left)" for a in refused)
    assert await cloud.used() == {h: (3, 3072, 30) for h in ("c1", "c2", "c3")}
    assert await cloud.claims() == placed


async def test_two_schedulers_share_the_hosts_without_overbooking(cloud: Cloud) -> None:
    for name in ("c1", "c2", "c3"):
        await cloud.add_host(name)
    first = await cloud.start_scheduler("sched-1")
    second = await cloud.start_scheduler("sched-2")
    assert first.selector is not None and second.selector is not None
    selectors = [first.selector, second.selector]
    answers = await asyncio.gather(
        *(
            selectors[n % 2].select(
                RequestSpec(
                    instance_ids=[f"i-{n}"], project_id="p", vcpus=1, memory_mb=1024, disk_gb=10
                )
            )
            for n in range(40)
        )
    )
    placed = Counter(host for a in answers for host in a.hosts.values())
    assert placed == {"c1": 3, "c2": 3, "c3": 3}
    assert await cloud.used() == {h: (3, 3072, 30) for h in ("c1", "c2", "c3")}
    refused = [a.reason for a in answers if not a.hosts]
    assert len(refused) == 31
    assert all(r is not None and r.startswith("No valid host: 3 hosts;") for r in refused)


async def test_claims_are_released_once(cloud: Cloud) -> None:
    await cloud.add_host("c1")
    await cloud.start_scheduler()
    assert cloud.bus is not None
    answer = await cloud.select(["i-1", "i-2", "i-3"])
    assert answer.hosts == {"i-1": "c1", "i-2": "c1", "i-3": "c1"}
    assert (await cloud.select(["i-4"])).hosts == {}
    for _ in range(2):  # the bus delivers at least once: a repeat must change nothing
        await cloud.bus.cast(SCHEDULER_TOPIC, ReleaseClaim(instance_id="i-1", host="c1"))

    async def released() -> bool:
        return await cloud.claims() == {"c1": 2}

    await eventually(released)
    assert await cloud.used() == {"c1": (2, 2048, 20)}
    assert (await cloud.select(["i-4"])).hosts == {"i-4": "c1"}
    assert await cloud.used() == {"c1": (3, 3072, 30)}


async def test_a_resize_claim_grows_only_into_room_and_always_shrinks(cloud: Cloud) -> None:
    await cloud.add_host("c1")  # 4 vCPUs, 2048 MiB * 1.5, 40 GiB
    await cloud.start_scheduler()
    assert cloud.bus is not None
    assert (await cloud.select(["i-1", "i-2"])).hosts == {"i-1": "c1", "i-2": "c1"}

    async def resize(vcpus: int, memory_mb: int, disk_gb: int) -> bool:
        assert cloud.bus is not None
        ask = ResizeClaim(instance_id="i-1", host="c1", vcpus=vcpus, memory_mb=memory_mb,
                          disk_gb=disk_gb)  # fmt: skip
        return (await cloud.bus.call(SCHEDULER_TOPIC, ask)).claimed

    assert await resize(2, 2048, 10)  # 1024 + 2048 of 3072 MiB
    assert await cloud.used() == {"c1": (3, 3072, 20)}
    assert not await resize(2, 2049, 10)  # one MiB past the ratio: nothing changes
    assert await cloud.used() == {"c1": (3, 3072, 20)}
    assert await resize(1, 512, 5)  # shrinking always fits
    assert await cloud.used() == {"c1": (2, 1536, 15)}
    assert (await cloud.select(["i-3"])).hosts == {"i-3": "c1"}  # the scheduler sees the room
    assert await cloud.used() == {"c1": (3, 2560, 25)}
    await cloud.bus.cast(SCHEDULER_TOPIC, ReleaseClaim(instance_id="i-1", host="c1"))

    async def released() -> bool:
        return await cloud.used() == {"c1": (2, 2048, 20)}  # what the resized claim held

    await eventually(released)


async def _group(cloud: Cloud, policy: str) -> str:
    group_id = str(uuid.uuid4())
    async with cloud.db.session() as session:
        session.add(ServerGroup(id=group_id, project_id="p", user_id="u", name="g", policy=policy))
    return group_id


async def test_anti_affinity_spreads_and_explains_when_it_cannot(cloud: Cloud) -> None:
    await cloud.add_host("c1")
    await cloud.add_host("c2")
    await cloud.start_scheduler()
    group = await _group(cloud, "anti-affinity")
    # two separate, concurrent requests: the group's claims keep them apart
    a, b = await asyncio.gather(
        cloud.select(["i-1"], server_group_id=group),
        cloud.select(["i-2"], server_group_id=group),
    )
    assert sorted([*a.hosts.values(), *b.hosts.values()]) == ["c1", "c2"]
    third = await cloud.select(["i-3"], server_group_id=group)
    assert third.hosts == {}
    assert third.reason == (
        "No valid host: 2 hosts; ServerGroupAntiAffinityFilter removed 2 (0 left)"
    )


async def test_anti_affinity_on_one_host_fails_with_the_explanation(cloud: Cloud) -> None:
    await cloud.add_host("c1")
    await cloud.start_scheduler()
    group = await _group(cloud, "anti-affinity")
    answer = await cloud.select(["i-1", "i-2"], server_group_id=group, min_count=2)
    assert answer.hosts == {}
    assert answer.reason == (
        "No valid host: 1 host; ServerGroupAntiAffinityFilter removed 1 (0 left)"
    )
    assert await cloud.claims() == {}  # the first instance's claim went back
    assert await cloud.used() == {"c1": (0, 0, 0)}


async def test_group_members_known_only_to_the_instance_table_count(cloud: Cloud) -> None:
    await cloud.add_host("c1")
    await cloud.add_host("c2")
    group = await _group(cloud, "affinity")
    async with cloud.db.session() as session:
        session.add(
            Instance(
                id="old",
                project_id="p",
                user_id="u",
                name="old",
                hostname="old",
                flavor={},
                vm_state="active",
                host="c2",
                server_group_id=group,
            )
        )
    await cloud.start_scheduler()
    for n in range(2):
        answer = await cloud.select([f"i-{n}"], server_group_id=group)
        assert answer.hosts == {f"i-{n}": "c2"}


async def test_a_retry_avoids_the_host_that_failed(cloud: Cloud) -> None:
    await cloud.add_host("c1")
    await cloud.add_host("c2")
    await cloud.start_scheduler()
    assert cloud.bus is not None
    first = await cloud.select(["i-1"])
    failed = first.hosts["i-1"]
    await cloud.bus.cast(SCHEDULER_TOPIC, ReleaseClaim(instance_id="i-1", host=failed))
    for _ in range(5):
        retry = await cloud.select(["i-1"], ignore_hosts=[failed])
        other = retry.hosts["i-1"]
        assert other != failed
        await cloud.bus.cast(SCHEDULER_TOPIC, ReleaseClaim(instance_id="i-1", host=other))
    only = await cloud.select(["i-9"], ignore_hosts=["c1", "c2"])
    assert only.reason == "No valid host: 2 hosts; IgnoreHostsFilter removed 2 (0 left)"


async def test_host_state_follows_the_tables(cloud: Cloud) -> None:
    await cloud.add_host("c1", disabled=True)
    await cloud.add_host("c2", last_seen=utcnow() - dt.timedelta(minutes=5))
    await cloud.start_scheduler(reload_on_miss_after=0)
    down = await cloud.select(["i-1"])
    assert down.reason == "No valid host: 2 hosts; ComputeFilter removed 2 (0 left)"
    await cloud.add_host("c3", availability_zone="east")  # registers after the start
    answer = await cloud.select(["i-2"], availability_zone="east")
    assert answer.hosts == {"i-2": "c3"}


async def test_hosts_changed_makes_every_scheduler_reload_aggregates(cloud: Cloud) -> None:
    """os-aggregates fans ``HostsChanged`` out: schedulers whose periodic reload is far
    off, and that still find a host in their old view, use the new aggregates at once."""
    await cloud.add_host("c1", memory_mb=8192)
    await cloud.add_host("c2", memory_mb=8192)
    first = await cloud.start_scheduler("sched-1", refresh_interval=3600)
    second = await cloud.start_scheduler("sched-2", refresh_interval=3600)
    async with cloud.db.session() as session:
        session.add(Aggregate(name="ssd", hosts=["c2"], metadata_={"ssd": "true"}))
        session.add(Aggregate(name="east", availability_zone="east", hosts=["c1"]))
    assert cloud.bus is not None
    await cloud.bus.fanout(SCHEDULER_TOPIC, HostsChanged())

    async def both_reloaded() -> bool:
        views = [s.selector.view.states.by_name for s in (first, second) if s.selector]
        return all(v["c1"].availability_zone == "east" for v in views) and len(views) == 2

    await eventually(both_reloaded)
    for n in range(4):  # whichever scheduler answers
        ssd = await cloud.select([f"i-{n}"], flavor_extra_specs={"ssd": "true"})
        assert ssd.hosts == {f"i-{n}": "c2"}
        east = await cloud.select([f"j-{n}"], availability_zone="east")
        assert east.hosts == {f"j-{n}": "c1"}


async def test_a_host_disabled_in_the_registry_gets_nothing(
    cloud: Cloud, db: Database, tmp_path: Path
) -> None:
    """os-services may switch a host off in the registry: the next load honours it."""
    await upgrade(db, REGISTRY_MIGRATIONS)
    await cloud.add_host("c1")
    await cloud.add_host("c2")
    bus = await connect(f"memory://sched-{uuid.uuid4().hex}")
    cloud.bus = bus
    registry = RegistryService()
    settings = Settings(state_dir=tmp_path, database={"url": db.url})
    await registry.start(Runtime(settings=settings, bus=bus, host="controller"))
    try:
        for host in ("c1", "c2"):
            await bus.cast(REGISTRY_TOPIC, Heartbeat(host=host, binary="stratus-compute-agent"))

        async def registered() -> bool:
            listed = await bus.call(REGISTRY_TOPIC, ListServices(binary="stratus-compute-agent"))
            return len(listed.services) == 2

        await eventually(registered)
        off = SetServiceState(host="c1", binary="stratus-compute-agent", disabled=True)
        await bus.call(REGISTRY_TOPIC, off)
        service = await cloud.start_scheduler()
        assert (await cloud.select(["i-1"], ignore_hosts=["c2"])).reason == (
            "No valid host: 2 hosts; IgnoreHostsFilter removed 1 (1 left), "
            "ComputeFilter removed 1 (0 left)"
        )
        await service.stop()
    finally:
        await registry.stop()
        await bus.close()

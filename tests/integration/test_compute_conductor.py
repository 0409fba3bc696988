"""The conductor with fake compute agents: builds, retries, power actions, deletes, moves.

In one process on the in-process bus and real SQLite tables (what ``stratus up`` runs),
with the real scheduler service: it weighs equal hosts at random, so a test that needs a
host chosen first makes it the emptier one, and the others follow where it went.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from compute_harness import Compute, start_compute
from sqlalchemy import func, select

from stratus.common.context import RequestContext
from stratus.common.rpc import Cast
from stratus.compute import conductor_rpc as api
from stratus.compute import rpc
from stratus.compute.agent.host import AgentHost
from stratus.compute.agent.service import build_dispatcher
from stratus.compute.models import ComputeNode, Instance, InstanceAction, InstanceActionEvent
from stratus.compute.states import Action, PowerState, TaskState, VmState
from stratus.compute.virt.fake import FakeDriver

pytestmark = pytest.mark.integration

V, T, A = VmState, TaskState, Action


@pytest.fixture
async def two_hosts(tmp_path: Path) -> AsyncIterator[Compute]:
    cloud = await start_compute(tmp_path, fake_hosts=2)
    yield cloud
    await cloud.stop()


def driver(cloud: Compute, host: str) -> FakeDriver:
    found = next(a.driver for a in cloud.agents.hosts if a.host == host)
    assert isinstance(found, FakeDriver)
    return found


async def test_build_becomes_active_on_a_host(two_hosts: Compute) -> None:
    iid = await two_hosts.boot("web")
    inst = await two_hosts.wait_state(iid, V.ACTIVE)
    host = inst.host
    assert host in ("node-fake-1", "node-fake-2")
    assert inst.power_state == PowerState.RUNNING
    assert inst.launched_at is not None and inst.fault is None
    assert iid in await driver(two_hosts, host).instances()
    assert await two_hosts.events(iid) == [
        ("conductor_schedule_and_build_instances", None, "Success"),
        ("compute_build_and_run_instance", host, "Success"),
    ]
    assert await two_hosts.claims() == [(iid, host)]
    ask = api.GetServerConsole(instance_id=iid, length=2)
    console = await two_hosts.bus.call("conductor", ask)
    assert console.output == "[    1.000000] cloud-init: hostname web\nweb login: \n"


async def test_spawn_failure_is_rescheduled_on_another_host(tmp_path: Path) -> None:
    cloud = await start_compute(tmp_path, fake_hosts=2, fake_failure_rate=1.0,
                                fake_failure_hosts=["node-fake-1"])  # fmt: skip
    try:
        # a server on node-fake-2 first, so the scheduler's spreading tries node-fake-1
        filler = await cloud.boot("filler", force_host="node-fake-2")
        await cloud.wait_state(filler, V.ACTIVE, host="node-fake-2")
        iid = await cloud.boot()
        inst = await cloud.wait_state(iid, V.ACTIVE)
        assert inst.host == "node-fake-2"
        assert inst.build_attempts == 2
        assert (await cloud.events(iid))[1:] == [
            ("compute_build_and_run_instance", "node-fake-1", "Error"),
            ("compute_build_and_run_instance", "node-fake-2", "Success"),
        ]
        assert await driver(cloud, "node-fake-1").instances() == {}
        assert await cloud.claims() == sorted([(filler, "node-fake-2"), (iid, "node-fake-2")])
    finally:
        await cloud.stop()


async def test_every_host_failing_ends_in_error_with_the_reason(tmp_path: Path) -> None:
    cloud = await start_compute(tmp_path, fake_hosts=2, fake_failure_rate=1.0)
    try:
        iid = await cloud.boot()
        inst = await cloud.wait_state(iid, V.ERROR)
        assert inst.host is None and inst.build_attempts == 2
        assert inst.fault is not None
        assert inst.fault["message"].startswith("No valid host was found.")
        assert "IgnoreHostsFilter removed 2 (0 left)" in inst.fault["message"]
        assert await cloud.claims() == []
    finally:
        await cloud.stop()


async def test_build_attempts_are_bounded(tmp_path: Path) -> None:
    cloud = await start_compute(tmp_path, fake_hosts=3, fake_failure_rate=1.0,
                                max_build_attempts=2)  # fmt: skip
    try:
        iid = await cloud.boot()
        inst = await cloud.wait_state(iid, V.ERROR)
        assert inst.fault is not None
        assert inst.fault["message"] == f"Build of instance {iid} failed after 2 attempt(s)"
        tried = [h for e, h, _ in await cloud.events(iid) if e == "compute_build_and_run_instance"]
        assert len(tried) == len(set(tried)) == 2  # the third host is never asked
        assert inst.fault["details"] == f"fake spawn failure injected on host {tried[1]}"
    finally:
        await cloud.stop()


async def test_no_host_with_room_says_which_filter(two_hosts: Compute) -> None:
    # more vCPUs than a fake host's 16 carry at the allocation ratio of 16
    huge = {"name": "huge", "vcpus": 16 * 16 + 1, "memory_mb": 1, "root_gb": 1}
    iid = await two_hosts.boot(flavor=huge)
    inst = await two_hosts.wait_state(iid, V.ERROR)
    assert inst.fault is not None
    assert "CoreFilter removed 2 (0 left)" in inst.fault["message"]
    assert "CoreFilter: 2 in, 0 out" in inst.fault["details"]


@pytest.mark.parametrize(
    ("action", "vm", "power"),
    [
        (A.STOP, V.STOPPED, PowerState.SHUTDOWN),
        (A.PAUSE, V.PAUSED, PowerState.PAUSED),
        (A.SUSPEND, V.SUSPENDED, PowerState.SUSPENDED),
        (A.REBOOT_HARD, V.ACTIVE, PowerState.RUNNING),
    ],
)
async def test_power_action_and_back(
    two_hosts: Compute, action: Action, vm: VmState, power: PowerState
) -> None:
    back = {A.STOP: A.START, A.PAUSE: A.UNPAUSE, A.SUSPEND: A.RESUME, A.REBOOT_HARD: A.REBOOT}
    iid = await two_hosts.boot()
    await two_hosts.wait_state(iid, V.ACTIVE)
    await two_hosts.act(iid, action)
    inst = await two_hosts.wait_state(iid, vm)
    assert inst.power_state == power
    await two_hosts.act(iid, back[action])
    inst = await two_hosts.wait_state(iid, V.ACTIVE)
    assert inst.power_state == PowerState.RUNNING
    results = [r for _, _, r in await two_hosts.events(iid)]
    assert results == ["Success"] * 4


async def test_failed_power_action_keeps_the_state(two_hosts: Compute) -> None:
    iid = await two_hosts.boot()
    inst = await two_hosts.wait_state(iid, V.ACTIVE)
    assert inst.host is not None
    await driver(two_hosts, inst.host).destroy(iid)  # the guest vanished behind our back
    await two_hosts.act(iid, A.PAUSE)
    await two_hosts.wait_state(iid, V.ACTIVE)
    event, host, result = (await two_hosts.events(iid))[-1]
    assert (event, host, result) == ("compute_pause_instance", inst.host, "Error")


async def test_guest_shutting_down_is_noticed_by_the_power_sync(two_hosts: Compute) -> None:
    iid = await two_hosts.boot()
    inst = await two_hosts.wait_state(iid, V.ACTIVE)
    agent = next(a for a in two_hosts.agents.hosts if a.host == inst.host)
    await driver(two_hosts, agent.host).power_off(iid, grace=0)  # shut down from inside
    from stratus.compute.agent import sync  # noqa: PLC0415

    await sync.sync_power_states(agent)
    inst = await two_hosts.wait_state(iid, V.STOPPED)
    assert inst.power_state == PowerState.SHUTDOWN


async def test_delete_destroys_on_the_host(two_hosts: Compute) -> None:
    iid = await two_hosts.boot()
    inst = await two_hosts.wait_state(iid, V.ACTIVE)
    await two_hosts.act(iid, A.DELETE)
    gone = await two_hosts.wait_state(iid, V.DELETED)
    assert gone.deleted_at is not None
    assert inst.host is not None
    assert await driver(two_hosts, inst.host).instances() == {}
    assert (await two_hosts.events(iid))[-1] == ("compute_terminate_instance", inst.host,
                                                 "Success")  # fmt: skip


async def test_delete_while_the_agent_is_down_is_cleaned_up_when_it_returns(
    two_hosts: Compute,
) -> None:
    cloud = two_hosts
    iid = await cloud.boot()
    inst = await cloud.wait_state(iid, V.ACTIVE)
    agent = next(a for a in cloud.agents.hosts if a.host == inst.host)
    await agent.stop()  # the agent dies; its hypervisor keeps the guest
    cloud.offset = dt.timedelta(seconds=cloud.settings.compute.agent_down_after + 1)
    await cloud.act(iid, A.DELETE)
    await cloud.wait_state(iid, V.DELETED)  # without waiting for the dead host
    assert iid in await agent.driver.instances()
    back = AgentHost(cloud.bus, agent.host, agent.driver, cloud.settings.compute)
    await back.start(build_dispatcher(back))  # its first report names the deleted guest
    try:
        await cloud.wait_for(lambda: _empty(back), "the deleted guest to be destroyed")
    finally:
        await back.stop()


async def _empty(agent: AgentHost) -> bool:
    return not await agent.driver.instances()


async def test_resize_then_confirm(two_hosts: Compute) -> None:
    await two_hosts.add_flavor("2", vcpus=2, memory_mb=1024)
    iid = await two_hosts.boot()
    src = (await two_hosts.wait_state(iid, V.ACTIVE)).host
    await two_hosts.act(iid, A.RESIZE, flavor_id="2")
    inst = await two_hosts.wait_state(iid, V.RESIZED)
    assert (inst.source_host, inst.flavor["vcpus"]) == (src, 2)
    assert inst.host is not None and inst.host != src
    await two_hosts.act(iid, A.CONFIRM_RESIZE)
    inst = await two_hosts.wait_state(iid, V.ACTIVE)
    assert inst.source_host is None and inst.old_flavor is None
    assert src is not None and await driver(two_hosts, src).instances() == {}
    assert iid in await driver(two_hosts, inst.host).instances()


async def test_migrate_then_revert(two_hosts: Compute) -> None:
    iid = await two_hosts.boot()
    src = (await two_hosts.wait_state(iid, V.ACTIVE)).host
    assert src is not None
    await two_hosts.act(iid, A.MIGRATE)
    dest = (await two_hosts.wait_state(iid, V.RESIZED)).host
    assert dest is not None and dest != src
    assert (await driver(two_hosts, src).instances())[iid] == PowerState.SHUTDOWN
    await two_hosts.act(iid, A.REVERT_RESIZE)
    await two_hosts.wait_state(iid, V.ACTIVE, host=src)
    assert await driver(two_hosts, dest).instances() == {}

    async def running() -> bool:
        inst = await two_hosts.instance(iid)
        return inst.power_state == PowerState.RUNNING

    await two_hosts.wait_for(running, "the source to run again")


@pytest.mark.parametrize(
    ("vm", "action"),
    [
        (V.RESIZED, A.CONFIRM_RESIZE),
        (V.RESIZED, A.REVERT_RESIZE),
        (V.ACTIVE, A.RESIZE),
        (V.ACTIVE, A.REBUILD),
    ],
)
async def test_an_action_on_a_server_on_no_host_ends_instead_of_hanging(
    two_hosts: Compute, vm: VmState, action: Action
) -> None:
    iid = await two_hosts.boot()
    await two_hosts.wait_state(iid, V.ACTIVE)
    async with two_hosts.db.session() as s:  # a row as an operator's repair may leave it
        inst = await s.get(Instance, iid)
        assert inst is not None
        inst.vm_state, inst.host, inst.node, inst.source_host = vm, None, None, None
    params = {"flavor_id": "1"} if action == A.RESIZE else {}
    await two_hosts.act(iid, action, **params)
    await two_hosts.wait_state(iid, V.ACTIVE)  # task state None: nothing left hanging


async def test_a_migration_keeps_the_image_constraints(two_hosts: Compute) -> None:
    iid = await two_hosts.boot(image_properties={"hypervisor_type": "fake"})
    await two_hosts.wait_state(iid, V.ACTIVE)
    async with two_hosts.db.session() as s:  # as a rebuild from a QEMU-only image leaves it
        inst = await s.get(Instance, iid)
        assert inst is not None
        inst.image_properties = {"hypervisor_type": "qemu"}
    rid = await two_hosts.act(iid, A.MIGRATE)
    await two_hosts.wait_state(iid, V.ACTIVE)  # no fake host runs QEMU: it stays
    async with two_hosts.db.session() as s:
        details = await s.scalars(
            select(InstanceActionEvent.traceback)
            .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
            .where(InstanceAction.request_id == rid)
        )
        assert any("ImagePropertiesFilter" in (d or "") for d in details)


async def test_live_migration_moves_the_running_guest(two_hosts: Compute) -> None:
    iid = await two_hosts.boot()
    src = (await two_hosts.wait_state(iid, V.ACTIVE)).host
    assert src is not None
    await two_hosts.act(iid, A.LIVE_MIGRATE)

    async def moved() -> bool:
        inst = await two_hosts.instance(iid)
        return inst.task_state is None and inst.host != src

    await two_hosts.wait_for(moved, "the live migration")
    inst = await two_hosts.instance(iid)
    assert inst.source_host is None and inst.vm_state == V.ACTIVE
    assert inst.host is not None
    assert (await driver(two_hosts, inst.host).instances())[iid] == PowerState.RUNNING
    assert await driver(two_hosts, src).instances() == {}


async def test_rebuild_builds_again_on_the_same_host(two_hosts: Compute) -> None:
    iid = await two_hosts.boot()
    src = (await two_hosts.wait_state(iid, V.ACTIVE)).host
    await two_hosts.act(iid, A.REBUILD, image_ref="11111111-2222-3333-4444-555555555555")
    inst = await two_hosts.wait_state(iid, V.ACTIVE, host=src)
    assert inst.image_ref == "11111111-2222-3333-4444-555555555555"
    assert (await two_hosts.events(iid))[-1] == ("compute_rebuild_instance", src, "Success")


async def test_evacuate_only_from_a_dead_host(two_hosts: Compute) -> None:
    cloud = two_hosts
    iid = await cloud.boot()
    src = (await cloud.wait_state(iid, V.ACTIVE)).host
    await cloud.act(iid, A.EVACUATE)  # refused: the host is alive
    await cloud.wait_for(lambda: _last_result(cloud, iid, "Error"), "the refusal")
    assert (await cloud.instance(iid)).host == src
    agent = next(a for a in cloud.agents.hosts if a.host == src)
    await agent.stop()
    # the other host keeps reporting: only the dead one ages past agent_down_after
    cloud.offset = dt.timedelta(seconds=cloud.settings.compute.agent_down_after + 1)
    await _report_all_but(cloud, src)
    await cloud.act(iid, A.EVACUATE)
    inst = await cloud.wait_state(iid, V.ACTIVE)
    await cloud.wait_for(lambda: _on_other_host(cloud, iid, src), "the evacuation")
    inst = await cloud.instance(iid)
    assert inst.host is not None
    assert iid in await driver(cloud, inst.host).instances()


async def _on_other_host(cloud: Compute, iid: str, src: str | None) -> bool:
    inst = await cloud.instance(iid)
    return inst.host != src and inst.vm_state == V.ACTIVE and inst.task_state is None


async def _last_result(cloud: Compute, iid: str, result: str) -> bool:
    events = await cloud.events(iid)
    return bool(events) and events[-1][2] == result


async def _report_all_but(cloud: Compute, dead: str | None) -> None:
    from stratus.compute.agent import sync  # noqa: PLC0415

    for agent in cloud.agents.hosts:
        if agent.host != dead:
            await sync.report_host(agent)

    async def fresh() -> bool:
        async with cloud.db.session() as s:
            node = await s.get(ComputeNode, "node-fake-2" if dead == "node-fake-1"
                               else "node-fake-1")  # fmt: skip
        assert node is not None
        return (cloud.now() - node.last_seen).total_seconds() < 5

    await cloud.wait_for(fresh, "the live host's report")


async def test_a_hundred_fake_hosts_register(tmp_path: Path) -> None:
    cloud = await start_compute(tmp_path, fake_hosts=100)
    try:
        nodes = await cloud.wait_hosts(100)
        assert sorted(n.host for n in nodes) == sorted(f"node-fake-{i}" for i in range(1, 101))
        assert {n.hypervisor_type for n in nodes} == {"fake"}
        async with cloud.db.session() as s:
            assert await s.scalar(select(func.count()).select_from(ComputeNode)) == 100
    finally:
        await cloud.stop()


async def test_unknown_instance_events_are_ignored(two_hosts: Compute) -> None:
    stray: Cast = rpc.InstanceEvent(instance_id="nope", host="node-fake-1",
                                    event=rpc.Event.BUILT, power_state=1)  # fmt: skip
    await two_hosts.bus.cast("conductor", stray, ctx=RequestContext())
    iid = await two_hosts.boot()
    await two_hosts.wait_state(iid, V.ACTIVE)

"""A resize on a cloud of one compute host stays on that host (``allow_resize_to_same_host``).

The conductor, the real scheduler and a fake agent on the in-process bus and SQLite: the
instance's claim grows to the larger flavor while the resize waits, the agent resizes
in place and keeps the old flavor for a revert, and confirm or revert shrink the claim
to the flavor that stays. The QEMU driver's side (disks kept and restored) is tested in
``test_qemu_driver.py`` and through the CLI in ``functional/test_qemu_cloud.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from compute_harness import Compute, start_compute
from sqlalchemy import select

from stratus.compute.models import ComputeNode, ResourceClaim
from stratus.compute.states import Action, PowerState, VmState
from stratus.compute.virt.fake import FakeDriver

pytestmark = pytest.mark.integration

V, A = VmState, Action
HOST = "node-fake-1"


@pytest.fixture
async def one_host(tmp_path: Path) -> AsyncIterator[Compute]:
    cloud = await start_compute(tmp_path, fake_hosts=1)
    await cloud.add_flavor("2", vcpus=2, memory_mb=1024)
    yield cloud
    await cloud.stop()


def fake(cloud: Compute) -> FakeDriver:
    (agent,) = cloud.agents.hosts
    assert isinstance(agent.driver, FakeDriver)
    return agent.driver


async def held(cloud: Compute, iid: str) -> tuple[int, int]:
    """(vCPUs, MiB) the instance's claim holds on the host, and checks the host's
    counters agree with the claims."""
    async with cloud.db.session() as s:
        claim = await s.get(ResourceClaim, (iid, HOST))
        node = await s.scalar(select(ComputeNode).where(ComputeNode.host == HOST))
    assert claim is not None and node is not None
    assert (node.vcpus_used, node.memory_mb_used) == (claim.vcpus, claim.memory_mb)
    return claim.vcpus, claim.memory_mb


async def test_resize_stays_on_the_only_host_then_reverts_and_confirms(one_host: Compute) -> None:
    cloud = one_host
    iid = await cloud.boot()
    await cloud.wait_state(iid, V.ACTIVE, host=HOST)
    assert await held(cloud, iid) == (1, 512)

    await cloud.act(iid, A.RESIZE, flavor_id="2")
    inst = await cloud.wait_state(iid, V.RESIZED)
    assert (inst.host, inst.source_host, inst.flavor["vcpus"]) == (HOST, HOST, 2)
    assert fake(cloud)._instances[iid].spec.flavor.vcpus == 2
    assert (await fake(cloud).instances())[iid] == PowerState.RUNNING  # it ran before
    assert await held(cloud, iid) == (2, 1024)  # the larger of both while it waits

    await cloud.act(iid, A.REVERT_RESIZE)
    inst = await cloud.wait_state(iid, V.ACTIVE)
    assert (inst.host, inst.source_host, inst.flavor["vcpus"]) == (HOST, None, 1)
    assert inst.old_flavor is None and inst.power_state == PowerState.RUNNING
    assert fake(cloud)._instances[iid].spec.flavor.vcpus == 1
    assert await held(cloud, iid) == (1, 512)

    await cloud.act(iid, A.RESIZE, flavor_id="2")
    await cloud.wait_state(iid, V.RESIZED)
    await cloud.act(iid, A.CONFIRM_RESIZE)
    inst = await cloud.wait_state(iid, V.ACTIVE)
    assert (inst.source_host, inst.flavor["vcpus"]) == (None, 2)
    assert fake(cloud)._instances[iid].pre_resize is None  # the old copy is dropped
    assert await held(cloud, iid) == (2, 1024)
    assert [e for e, _, r in await cloud.events(iid) if r == "Error"] == []


async def test_a_stopped_server_is_resized_and_stays_stopped(one_host: Compute) -> None:
    cloud = one_host
    iid = await cloud.boot()
    await cloud.wait_state(iid, V.ACTIVE)
    await cloud.act(iid, A.STOP)
    await cloud.wait_state(iid, V.STOPPED)
    await cloud.act(iid, A.RESIZE, flavor_id="2")
    inst = await cloud.wait_state(iid, V.RESIZED)
    assert inst.power_state == PowerState.SHUTDOWN
    await cloud.act(iid, A.CONFIRM_RESIZE)
    inst = await cloud.wait_state(iid, V.STOPPED)
    assert inst.flavor["vcpus"] == 2 and inst.power_state == PowerState.SHUTDOWN


async def test_no_room_on_the_only_host_leaves_the_server_as_it_was(one_host: Compute) -> None:
    cloud = one_host
    iid = await cloud.boot()
    await cloud.wait_state(iid, V.ACTIVE)
    await cloud.add_flavor("huge", vcpus=16 * 16 + 1, memory_mb=512)  # past the CPU ratio
    await cloud.act(iid, A.RESIZE, flavor_id="huge")

    async def refused() -> bool:
        return ("compute_prep_resize", HOST, "Error") in await cloud.events(iid)

    await cloud.wait_for(refused, "the resize to be refused")
    inst = await cloud.wait_state(iid, V.ACTIVE)
    assert inst.flavor["vcpus"] == 1 and inst.source_host is None
    assert await held(cloud, iid) == (1, 512)
    assert (await fake(cloud).instances())[iid] == PowerState.RUNNING

"""Create image between the conductor and a fake agent, on the in-process bus and real
SQLite tables: the task state only moves forward whatever order the agent's events
arrive in, and a driver that cannot write the disk ends the task with its error.
(The upload itself, against the real image service, is in
tests/functional/test_compute_snapshot.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from compute_harness import Compute, start_compute
from sqlalchemy import select

from stratus.common.context import RequestContext
from stratus.compute import conductor_rpc as api
from stratus.compute import rpc
from stratus.compute.models import Instance, InstanceAction, InstanceActionEvent
from stratus.compute.states import Action, PowerState, TaskState, VmState
from stratus.compute.virt.fake import FakeDriver

pytestmark = pytest.mark.integration
T = TaskState


@pytest.fixture
async def one_host(tmp_path: Path) -> AsyncIterator[Compute]:
    cloud = await start_compute(tmp_path)
    yield cloud
    await cloud.stop()


async def _snapshotting(cloud: Compute) -> tuple[str, str, str]:
    """An active server whose snapshot the API has just started: (id, host, request id)."""
    iid = await cloud.boot()
    inst = await cloud.wait_state(iid, VmState.ACTIVE)
    assert inst.host is not None
    rid = f"req-{uuid.uuid4()}"
    async with cloud.db.session() as s:
        row = await s.get(Instance, iid)
        assert row is not None
        row.task_state = T.IMAGE_SNAPSHOT
        s.add(InstanceAction(instance_id=iid, request_id=rid, action="createImage",
                             project_id="p1", user_id="u1"))  # fmt: skip
    return iid, inst.host, rid


async def _tell(cloud: Compute, iid: str, host: str, rid: str, event: rpc.Event) -> None:
    ev = rpc.InstanceEvent(instance_id=iid, host=host, event=event,
                           power_state=PowerState.RUNNING)  # fmt: skip
    await cloud.bus.cast("conductor", ev, ctx=RequestContext(request_id=rid))


async def test_late_steps_never_move_the_task_state_back(one_host: Compute) -> None:
    iid, host, rid = await _snapshotting(one_host)
    await _tell(one_host, iid, host, rid, rpc.Event.IMAGE_UPLOADING)
    await one_host.wait_state(iid, VmState.ACTIVE, T.IMAGE_UPLOADING)
    await _tell(one_host, iid, host, rid, rpc.Event.SNAPSHOT_TAKEN)  # arrives late
    await _tell(one_host, iid, host, rid, rpc.Event.IMAGE_UPLOADED)
    await one_host.wait_state(iid, VmState.ACTIVE, None)
    assert (await one_host.events(iid))[-1] == ("compute_snapshot_instance", host, "Success")
    # a step that comes after the end changes nothing either
    await _tell(one_host, iid, host, rid, rpc.Event.SNAPSHOT_TAKEN)
    await _tell(one_host, iid, host, rid, rpc.Event.IMAGE_UPLOADED)
    await one_host.wait_state(iid, VmState.ACTIVE, None)


async def test_steps_in_order_go_through_every_task_state(one_host: Compute) -> None:
    iid, host, rid = await _snapshotting(one_host)
    await _tell(one_host, iid, host, rid, rpc.Event.SNAPSHOT_TAKEN)
    await one_host.wait_state(iid, VmState.ACTIVE, T.IMAGE_PENDING_UPLOAD)
    await _tell(one_host, iid, host, rid, rpc.Event.IMAGE_UPLOADING)
    await one_host.wait_state(iid, VmState.ACTIVE, T.IMAGE_UPLOADING)
    await _tell(one_host, iid, host, rid, rpc.Event.SNAPSHOT_FAILED)
    await one_host.wait_state(iid, VmState.ACTIVE, None)
    assert (await one_host.events(iid))[-1] == ("compute_snapshot_instance", host, "Error")


async def test_a_disk_the_driver_cannot_write_ends_the_task_with_its_error(
    one_host: Compute,
) -> None:
    iid, host, rid = await _snapshotting(one_host)
    agent = next(a for a in one_host.agents.hosts if a.host == host)
    assert isinstance(agent.driver, FakeDriver)
    await agent.driver.destroy(iid)  # the guest vanished behind the conductor's back
    params = {"image_id": str(uuid.uuid4()), "disk_format": "qcow2"}
    msg = api.ServerAction(instance_id=iid, action=Action.SNAPSHOT, params=params,
                           request_id=rid, auth_token="a-token")  # fmt: skip
    assert "a-token" not in repr(msg)
    await one_host.bus.cast("conductor", msg, ctx=RequestContext(request_id=rid))
    await one_host.wait_for(lambda: _finished(one_host, iid), "the snapshot to end")
    inst = await one_host.wait_state(iid, VmState.ACTIVE, None)
    assert inst.host == host
    async with one_host.db.session() as s:
        event = await s.scalar(
            select(InstanceActionEvent).where(
                InstanceActionEvent.event == "compute_snapshot_instance"
            )
        )
    assert event is not None and event.result == "Error"
    assert f"instance {iid} is not on host {host}" in (event.traceback or "")
    assert list(agent.snapshot_dir.iterdir()) == []


async def _finished(cloud: Compute, iid: str) -> bool:
    return any(
        e == "compute_snapshot_instance" and r is not None for e, _, r in await cloud.events(iid)
    )

"""The compute agent on the qemu driver, over the in-process bus, as the conductor sees
it: a build answers ``BUILT`` with a running guest, the host reports ``QEMU``, a QEMU
killed behind the agent's back is reported ``SHUTDOWN`` by the power sync, a restarted
agent reports the guest it adopted, and a destroy answers ``DESTROYED`` and leaves no
process or file."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from qemu_images import ImageServer, guest_image, serve

from stratus.common.context import RequestContext
from stratus.common.rpc import Bus, Dispatcher, connect
from stratus.compute import rpc
from stratus.compute.agent.host import AgentHost
from stratus.compute.agent.service import build_dispatcher
from stratus.compute.settings import ComputeSettings
from stratus.compute.states import PowerState
from stratus.compute.virt.qemu import process
from stratus.compute.virt.qemu.driver import QemuConfig, QemuDriver
from stratus.compute.virt.qemu.paths import InstancePaths

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed"),
]
HOST = "qa-host"
WAIT = 120.0


@dataclass
class Conductor:
    """What the agent tells the conductor topic."""

    events: list[rpc.InstanceEvent] = field(default_factory=list)
    reports: list[rpc.HostReport] = field(default_factory=list)

    async def wait_event(self, iid: str, event: rpc.Event, power: PowerState) -> None:
        async with asyncio.timeout(WAIT):
            while not any(e.instance_id == iid and e.event == event and e.power_state == power
                          for e in self.events):  # fmt: skip
                await asyncio.sleep(0.2)

    async def wait_report(self, count: int) -> rpc.HostReport:
        """The ``count``-th host report (1-based)."""
        async with asyncio.timeout(WAIT):
            while len(self.reports) < count:
                await asyncio.sleep(0.1)
        return self.reports[count - 1]


@pytest.fixture
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageServer]:
    with serve(guest_image(tmp_path_factory)) as server:
        yield server


@pytest.fixture
def state() -> Iterator[Path]:
    """``<root>/s``: the driver's state (short: unix socket paths are limited);
    ``<root>/snap``: the agent's snapshot files."""
    root = Path(tempfile.mkdtemp(prefix="sqa", dir="/tmp"))
    (root / "s").mkdir()
    try:
        yield root / "s"
    finally:
        for d in (root / "s").iterdir():
            asyncio.run(process.kill(InstancePaths(d), d.name))
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def bus() -> AsyncIterator[tuple[Bus, Conductor]]:
    conductor = Conductor()
    dispatcher = Dispatcher()

    @dispatcher.handler(rpc.InstanceEvent)
    async def event(ctx: RequestContext, msg: rpc.InstanceEvent) -> None:
        conductor.events.append(msg)

    @dispatcher.handler(rpc.HostReport)
    async def report(ctx: RequestContext, msg: rpc.HostReport) -> None:
        conductor.reports.append(msg)

    async with await connect(f"memory://qa-{uuid.uuid4().hex}") as b:
        await b.serve(rpc.CONDUCTOR_TOPIC, dispatcher, host="conductor")
        yield b, conductor


async def _agent(bus: Bus, state: Path) -> AgentHost:
    settings = ComputeSettings(driver="qemu", qemu_state_dir=str(state), qemu_accel="tcg",
                               power_sync_interval=0.5, report_interval=60.0)  # fmt: skip
    driver = QemuDriver(QemuConfig(host=HOST, state_dir=state, accel="tcg"))
    agent = AgentHost(bus, HOST, driver, settings, heartbeat_interval=60.0,
                      snapshot_dir=state.parent / "snap")  # fmt: skip
    await agent.start(build_dispatcher(agent))
    return agent


def _instance(images: ImageServer) -> rpc.Instance:
    spec = images.disk_image()
    return rpc.Instance(
        id=str(uuid.uuid4()), name="agent vm", hostname="agent-vm", project_id="p1",
        flavor=rpc.Flavor(name="tiny", vcpus=1, memory_mb=256, root_gb=1),
        image=rpc.Image(id=spec.id, disk_format=spec.disk_format,
                        container_format=spec.container_format, size=spec.size,
                        checksum=spec.checksum, properties=dict(spec.properties),
                        download_url=spec.download_url, download_token=spec.download_token),
        user_data=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
    )  # fmt: skip


async def test_agent_builds_reports_a_killed_guest_adopts_and_destroys(
    images: ImageServer, state: Path, bus: tuple[Bus, Conductor]
) -> None:
    b, conductor = bus
    agent = await _agent(b, state)
    instance = _instance(images)
    iid = instance.id
    try:
        assert (await conductor.wait_report(1)).resources.hypervisor_type == "QEMU"
        await b.cast(rpc.AGENT_TOPIC, rpc.BuildInstance(instance=instance), host=HOST)
        await conductor.wait_event(iid, rpc.Event.BUILT, PowerState.RUNNING)
        pid = process.read_pid(InstancePaths(state / iid), iid)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await conductor.wait_event(iid, rpc.Event.POWER_CHANGED, PowerState.SHUTDOWN)
        await b.cast(rpc.AGENT_TOPIC, rpc.PowerAction(instance_id=iid, action=rpc.Power.START),
                     host=HOST)  # fmt: skip
        await conductor.wait_event(iid, rpc.Event.ACTION_DONE, PowerState.RUNNING)
    finally:
        await agent.stop()
    pid = process.read_pid(InstancePaths(state / iid), iid)
    reports = len(conductor.reports)
    agent = await _agent(b, state)  # a restarted agent: the same guest, not a second one
    try:
        report = await conductor.wait_report(reports + 1)
        assert report.instances == {iid: int(PowerState.RUNNING)}
        assert process.read_pid(InstancePaths(state / iid), iid) == pid
        await b.cast(rpc.AGENT_TOPIC, rpc.DestroyInstance(instance_id=iid), host=HOST)
        await conductor.wait_event(iid, rpc.Event.DESTROYED, PowerState.NOSTATE)
        assert not (state / iid).exists()
    finally:
        await agent.stop()

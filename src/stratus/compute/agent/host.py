"""One agent host: its driver, its per-host subscription, its reports and heartbeats.

A real agent runs one ``AgentHost``; the fake driver runs many in one process, each
with its own name, driver, topic queue and heartbeat, so each looks like a machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from stratus.common.context import RequestContext
from stratus.common.rpc import Bus, Dispatcher, Server
from stratus.compute import rpc
from stratus.compute.settings import ComputeSettings
from stratus.compute.states import PowerState
from stratus.compute.virt.driver import Driver
from stratus.registry.reporter import HeartbeatReporter

log = logging.getLogger(__name__)

BINARY = "stratus-compute-agent"


class AgentHost:
    def __init__(
        self,
        bus: Bus,
        host: str,
        driver: Driver,
        settings: ComputeSettings,
        *,
        heartbeat_interval: float = 10.0,
        snapshot_dir: Path | None = None,
    ) -> None:
        self.bus = bus
        self.host = host
        self.driver = driver
        self.settings = settings
        # this host's own directory for snapshot files on their way to the image service
        self.snapshot_dir = snapshot_dir or Path(tempfile.gettempdir()) / "stratus-snapshots" / host
        # power states the conductor was last told, by instance id (the power sync's base)
        self.reported: dict[str, PowerState] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._heartbeat = HeartbeatReporter(bus, host, BINARY, rpc.AGENT_TOPIC, heartbeat_interval)
        self._server: Server | None = None
        self._loops: list[asyncio.Task[None]] = []

    def lock(self, instance_id: str) -> asyncio.Lock:
        """Messages about one instance run one at a time (a delete waits for its build)."""
        return self._locks[instance_id]

    def forget(self, instance_id: str) -> None:
        self.reported.pop(instance_id, None)
        self._locks.pop(instance_id, None)

    async def emit(self, event: rpc.InstanceEvent, ctx: RequestContext | None = None) -> None:
        """Tell the conductor; the request id of the message being handled goes along."""
        self.reported[event.instance_id] = PowerState(event.power_state)
        try:
            await self.bus.cast(rpc.CONDUCTOR_TOPIC, event, ctx=ctx)
        except Exception as exc:  # the next host report carries the truth anyway
            log.warning("%s: cannot send %s of %s: %s", self.host, event.event,
                        event.instance_id, exc)  # fmt: skip

    async def power_of(self, instance_id: str) -> PowerState:
        return (await self.driver.instances()).get(instance_id, PowerState.NOSTATE)

    async def start(self, dispatcher: Dispatcher) -> None:
        from stratus.compute.agent import sync  # noqa: PLC0415 - sync needs AgentHost

        await self.driver.start()
        await asyncio.to_thread(_empty_dir, self.snapshot_dir)
        self._server = await self.bus.serve(rpc.AGENT_TOPIC, dispatcher, host=self.host)
        await self._heartbeat.start()
        try:
            await sync.report_host(self)
        except Exception as exc:  # the periodic report tries again
            log.warning("%s: first host report failed: %s", self.host, exc)
        self._every(self.settings.report_interval, sync.report_host, "report")
        self._every(self.settings.power_sync_interval, sync.sync_power_states, "power sync")

    def _every(
        self, interval: float, job: Callable[[AgentHost], Awaitable[None]], what: str
    ) -> None:
        async def run() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await job(self)
                except Exception:
                    log.exception("%s: %s failed", self.host, what)

        self._loops.append(asyncio.create_task(run(), name=f"{what} {self.host}"))

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops.clear()
        await self._heartbeat.stop()
        if self._server is not None:
            await self._server.stop()
            self._server = None


def _empty_dir(path: Path) -> None:
    """A private directory with no file left by a snapshot a crash interrupted."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.iterdir():
        if stale.is_file():
            log.info("removing %s, left by an interrupted snapshot", stale)
            stale.unlink(missing_ok=True)

"""Heartbeats from every service, agents included: a cast every ``interval`` seconds.

Only the bus is needed, never the database. A failed heartbeat is logged and the next one
is sent on schedule; the reporter stops only when told to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from stratus import __version__
from stratus.common.context import RequestContext
from stratus.common.rpc import Bus
from stratus.registry.rpc import TOPIC, Heartbeat

log = logging.getLogger(__name__)


class HeartbeatReporter:
    def __init__(
        self,
        bus: Bus,
        host: str,
        binary: str,
        topic: str = "",
        interval: float = 10.0,
        *,
        software_version: str = __version__,
    ) -> None:
        self._bus = bus
        self._interval = interval
        self._heartbeat = Heartbeat(
            host=host, binary=binary, topic=topic, software_version=software_version
        )
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self) -> None:
        """Send the first heartbeat now, then one every ``interval`` seconds, in the background."""
        if self._task is None:
            self._task = asyncio.create_task(
                self._run(), name=f"heartbeat {self._heartbeat.binary}"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def beat(self) -> bool:
        """Send one heartbeat; return whether the bus took it (failures are logged)."""
        try:
            await self._bus.cast(
                TOPIC, self._heartbeat, ctx=RequestContext(), timeout=self._interval
            )
        except Exception as exc:
            if not self._failing:
                log.warning(
                    "heartbeat of %s failed, retrying every %gs: %s",
                    self._heartbeat.binary,
                    self._interval,
                    exc,
                )
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeats of %s resumed", self._heartbeat.binary)
        self._failing = False
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.beat()
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - started)))

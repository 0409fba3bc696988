"""The heartbeat reporter: beats on schedule, never dies on bus errors."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from stratus.common.context import RequestContext
from stratus.common.rpc import BusUnavailable, Cast, Dispatcher, connect
from stratus.registry.reporter import HeartbeatReporter
from stratus.registry.rpc import TOPIC, Heartbeat


async def test_reporter_casts_heartbeats_until_stopped() -> None:
    received: list[Heartbeat] = []
    dispatcher = Dispatcher()

    @dispatcher.handler(Heartbeat)
    async def heartbeat(ctx: RequestContext, msg: Heartbeat) -> None:
        received.append(msg)

    async with await connect(f"memory://{uuid.uuid4().hex}") as bus:
        await bus.serve(TOPIC, dispatcher, host="controller")
        reporter = HeartbeatReporter(bus, "node1", "stratus-agent", "agent", interval=0.02)
        await reporter.start()
        async with asyncio.timeout(5):
            while len(received) < 3:
                await asyncio.sleep(0.01)
        await reporter.stop()
        count = len(received)
        await asyncio.sleep(0.1)
    assert len(received) == count
    assert {(m.host, m.binary, m.topic) for m in received} == {("node1", "stratus-agent", "agent")}


class FlakyBus:
    """Fails the first casts in two different ways, then takes them."""

    def __init__(self) -> None:
        self.calls = 0
        self.taken: list[Cast] = []

    async def cast(self, topic: str, msg: Cast, **kwargs: object) -> None:
        self.calls += 1
        if self.calls == 1:
            raise BusUnavailable("broker away")
        if self.calls == 2:
            raise RuntimeError("unexpected")
        self.taken.append(msg)


async def test_reporter_survives_bus_errors(caplog: pytest.LogCaptureFixture) -> None:
    bus = FlakyBus()
    reporter = HeartbeatReporter(bus, "node1", "agent", interval=0.01)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="stratus.registry.reporter"):
        await reporter.start()
        async with asyncio.timeout(5):
            while len(bus.taken) < 2:
                await asyncio.sleep(0.01)
        await reporter.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "broker away" in warnings[0].getMessage()
    assert any("resumed" in r.getMessage() for r in caplog.records)

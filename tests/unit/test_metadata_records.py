"""The metadata service's record cache over the real in-process bus: one conductor call
per instance per ``cache_ttl``, "not found" never cached (the clock is the test's)."""

from __future__ import annotations

import uuid

import pytest

from stratus.common.context import RequestContext
from stratus.common.errors import NotFound
from stratus.common.rpc import Dispatcher, connect
from stratus.compute import rpc
from stratus.compute.conductor_rpc import GetInstanceMetadata
from stratus.compute.metadata.record import InstanceMetadata
from stratus.compute.metadata.records import InstanceRecords


async def test_records_are_cached_per_instance_until_the_ttl() -> None:
    bus = await connect(f"memory://md-{uuid.uuid4().hex}")
    asked: list[str] = []
    known = {"a", "b"}
    d = Dispatcher()

    @d.handler(GetInstanceMetadata)
    async def answer(ctx: RequestContext, msg: GetInstanceMetadata) -> InstanceMetadata:
        asked.append(msg.instance_id)
        if msg.instance_id not in known:
            raise NotFound("compute.instance.not_found", "gone")
        return InstanceMetadata(uuid=msg.instance_id, name="n", hostname="h", project_id="p")

    server = await bus.serve(rpc.CONDUCTOR_TOPIC, d, host="test")
    now = [0.0]
    records = InstanceRecords(bus, ttl=5.0, timeout=5.0, clock=lambda: now[0])
    try:
        for _ in range(3):
            assert (await records.get("a")).uuid == "a"
        assert (await records.get("b")).uuid == "b"
        assert asked == ["a", "b"]
        now[0] = 5.0  # the TTL has passed: asked again
        await records.get("a")
        assert asked == ["a", "b", "a"]
        for _ in range(2):
            with pytest.raises(NotFound):
                await records.get("c")
        assert asked.count("c") == 2  # a miss is never cached
        known.add("c")
        assert (await records.get("c")).uuid == "c"
    finally:
        await server.stop()
        await bus.close()

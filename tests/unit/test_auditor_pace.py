"""The auditor's read pacing: it waits exactly as long as it is ahead of its rate."""

from __future__ import annotations

from stratus.objectstore.daemons.object_auditor import ByteRate


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_reads_faster_than_the_rate_wait_for_it() -> None:
    t = FakeTime()
    pace = ByteRate(1000, clock=t.clock, sleep=t.sleep)
    await pace.spend(500)
    await pace.spend(500)
    assert t.slept == [0.5, 0.5]
    assert t.now == 101.0


async def test_slow_reads_never_wait() -> None:
    t = FakeTime()
    pace = ByteRate(1000, clock=t.clock, sleep=t.sleep)
    t.now += 2.0
    await pace.spend(1500)
    assert t.slept == []
    await pace.spend(1000)  # 2500 bytes in 2 s: half a second ahead
    assert t.slept == [0.5]

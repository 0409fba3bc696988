"""Instance records from the conductor, kept a few seconds per instance.

A booting guest reads dozens of paths in a burst; one RPC call answers them all. Only
found records are cached, so an instance created a moment ago is never hidden by a stale
"not found".
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from stratus.common.rpc import Bus
from stratus.compute import rpc
from stratus.compute.conductor_rpc import GetInstanceMetadata
from stratus.compute.metadata.record import InstanceMetadata

MAX_CACHED = 4096


class InstanceRecords:
    def __init__(
        self,
        bus: Bus,
        ttl: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus, self.ttl, self.timeout, self.clock = bus, ttl, timeout, clock
        self._cache: OrderedDict[str, tuple[float, InstanceMetadata]] = OrderedDict()

    async def get(self, instance_id: str) -> InstanceMetadata:
        """The instance's record; ``compute.instance.not_found`` if it has none."""
        now = self.clock()
        cached = self._cache.get(instance_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        ask = GetInstanceMetadata(instance_id=instance_id)
        record = await self.bus.call(rpc.CONDUCTOR_TOPIC, ask, timeout=self.timeout)
        self._cache[instance_id] = (now, record)
        self._cache.move_to_end(instance_id)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return record

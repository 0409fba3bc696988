"""Object rows on their way to a container replica: one request in flight per replica.

A row that finds its replica idle goes alone, as the row ``PUT`` or ``DELETE`` (so an
unloaded proxy adds no latency). Rows that arrive while a request to that replica is in
flight wait and then go together in the next one (``dbs/row_batch.py``): under 32
concurrent writes to one container this turns about 32 row requests per replica into
one or two, each of which cost more to send, parse and answer than merging its row. Every
row learns whether its replica took it; each request is bounded by the container update
timeout, so a slow replica holds back its rows at most that long before they are given
up (and queued as async pendings by the caller).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from stratus.objectstore.dbs import row_batch
from stratus.objectstore.proxy.backend import Backend, backend_path
from stratus.objectstore.proxy.request import ObjectName
from stratus.objectstore.ring.devices import Device

# replica address, device, partition, account, container
LaneKey = tuple[str, int, str, int, str, str]
# op, object name, row headers, whether the replica took it
Entry = tuple[str, str, Mapping[str, str], "asyncio.Future[bool]"]


class ContainerRows:
    def __init__(self, backend: Backend, *, timeout: float) -> None:
        self.backend = backend
        self.timeout = timeout
        self._waiting: dict[LaneKey, list[Entry]] = {}
        self._lanes: set[asyncio.Task[None]] = set()

    async def send(
        self, dev: Device, partition: int, name: ObjectName, op: str, headers: Mapping[str, str]
    ) -> bool:
        """Whether this replica took the row (``PUT`` or ``DELETE`` of ``name``)."""
        key = (dev.ip, dev.port, dev.device, partition, name.account, name.container)
        obj = name.obj
        took: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        queue = self._waiting.get(key)
        if queue is None:
            queue = self._waiting[key] = []
            lane = asyncio.ensure_future(self._lane(key, dev))
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)
        queue.append((op, obj, headers, took))
        return await took

    async def _lane(self, key: LaneKey, dev: Device) -> None:
        batch: list[Entry] = []
        try:
            while queue := self._waiting[key]:
                batch, self._waiting[key] = queue[: row_batch.MAX_ROWS], queue[row_batch.MAX_ROWS :]
                try:
                    ok = await asyncio.wait_for(self._deliver(key, dev, batch), self.timeout)
                except TimeoutError:
                    ok = False
                _settle(batch, ok)
        finally:
            _settle(batch, False)  # those of a lane cancelled mid-request (a stopping proxy)
            _settle(self._waiting.pop(key), False)

    async def _deliver(self, key: LaneKey, dev: Device, batch: list[Entry]) -> bool:
        _, _, _, partition, account, container = key
        if len(batch) == 1:
            op, obj, headers, _ = batch[0]
            path = backend_path(dev, partition, account, container, obj)
            reply = await self.backend.call(dev, path, op, headers)
        else:
            body = row_batch.encode([(op, obj, headers) for op, obj, headers, _ in batch])
            path = backend_path(dev, partition, account, container)
            reply = await self.backend.call(
                dev, path, "POST", {row_batch.HEADER: "true"}, content=body
            )
        return reply.ok

    async def close(self) -> None:
        for lane in list(self._lanes):
            lane.cancel()
        await asyncio.gather(*self._lanes, return_exceptions=True)


def _settle(entries: list[Entry], ok: bool) -> None:
    for *_, took in entries:
        if not took.done():
            took.set_result(ok)

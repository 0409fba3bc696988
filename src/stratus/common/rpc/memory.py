"""The in-process transport, for ``stratus up``: asyncio queues, same semantics as AMQP.

Buses connected to the same ``memory://NAME`` URL in one process share a broker. Queues
for ``topic`` and ``topic.host`` outlive their servers (a cast waits for a server to come
back); a call's request expires with its timeout; fan-out reaches current listeners only.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field

from stratus.common.rpc.transport import (
    InFlight,
    NoRoute,
    RequestHandler,
    TransportDown,
    address,
)

log = logging.getLogger(__name__)

PREFETCH = 64  # requests one listener handles at a time


@dataclass
class _Delivery:
    payload: bytes
    reply: asyncio.Future[bytes] | None = None
    expires: float | None = None

    def stale(self, now: float) -> bool:
        if self.reply is not None and self.reply.done():
            return True  # the caller gave up
        return self.expires is not None and now >= self.expires


@dataclass(eq=False)
class _Broker:
    queues: dict[str, asyncio.Queue[_Delivery]] = field(default_factory=dict)
    fanouts: dict[str, set[asyncio.Queue[_Delivery]]] = field(default_factory=dict)

    def queue(self, name: str) -> asyncio.Queue[_Delivery]:
        return self.queues.setdefault(name, asyncio.Queue())


_brokers: weakref.WeakValueDictionary[str, _Broker] = weakref.WeakValueDictionary()


def _broker_for(url: str) -> _Broker:
    name = url.removeprefix("memory://").strip("/")
    broker = _brokers.get(name)
    if broker is None:
        broker = _brokers[name] = _Broker()
    return broker


class MemoryListener:
    def __init__(
        self,
        broker: _Broker,
        topic: str,
        queues: list[asyncio.Queue[_Delivery]],
        handler: RequestHandler,
    ) -> None:
        self._broker = broker
        self._topic = topic
        self._fanout: asyncio.Queue[_Delivery] = asyncio.Queue()
        broker.fanouts.setdefault(topic, set()).add(self._fanout)
        self._handler = handler
        self._slots = asyncio.Semaphore(PREFETCH)
        self._inflight = InFlight()
        self._tasks: set[asyncio.Task[None]] = set()
        self._readers = [asyncio.create_task(self._read(q)) for q in [*queues, self._fanout]]
        self._stopped = False

    async def _read(self, queue: asyncio.Queue[_Delivery]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()
            try:
                delivery = await queue.get()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            if delivery.stale(loop.time()):
                self._slots.release()
                continue
            self._inflight.enter()
            task = asyncio.create_task(self._handle(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
            await asyncio.sleep(0)  # let the other servers of the topic take the next one

    async def _handle(self, delivery: _Delivery) -> None:
        try:
            reply = await self._handler(delivery.payload)
        except Exception:
            log.exception("RPC handler failed on topic %s", self._topic)
            return
        if delivery.reply is not None and reply is not None and not delivery.reply.done():
            delivery.reply.set_result(reply)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        self._inflight.leave()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._broker.fanouts.get(self._topic, set()).discard(self._fanout)
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self._inflight.wait_idle()


class MemoryTransport:
    """Queues in this process; ``memory://`` and ``memory://NAME`` name separate brokers."""

    def __init__(self, url: str = "memory://") -> None:
        self._broker = _broker_for(url)
        self._listeners: list[MemoryListener] = []
        self._pending: set[asyncio.Future[bytes]] = set()
        self._closed = False

    async def send(self, address: str, payload: bytes, *, deadline: float) -> None:
        self._check_open()
        self._broker.queue(address).put_nowait(_Delivery(payload))

    async def request(self, address: str, payload: bytes, *, deadline: float) -> bytes:
        self._check_open()
        queue = self._broker.queues.get(address)
        if queue is None:
            raise NoRoute(address)
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending.add(reply)
        try:
            queue.put_nowait(_Delivery(payload, reply, deadline))
            async with asyncio.timeout_at(deadline):
                return await reply
        finally:
            self._pending.discard(reply)
            if reply.done() and not reply.cancelled():
                reply.exception()  # retrieved: a close() racing the reply logs nothing

    async def broadcast(self, topic: str, payload: bytes, *, deadline: float) -> None:
        self._check_open()
        for queue in self._broker.fanouts.get(topic, set()):
            queue.put_nowait(_Delivery(payload))

    async def listen(self, topic: str, host: str, handler: RequestHandler) -> MemoryListener:
        self._check_open()
        queues = [self._broker.queue(topic), self._broker.queue(address(topic, host))]
        listener = MemoryListener(self._broker, topic, queues, handler)
        self._listeners.append(listener)
        return listener

    async def close(self) -> None:
        self._closed = True
        for fut in self._pending:
            if not fut.done():
                fut.set_exception(TransportDown("the bus was closed"))
        await asyncio.gather(*(listener.stop() for listener in self._listeners))
        self._listeners.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise TransportDown("the bus is closed")

"""The consuming side of the AMQP transport: one channel per ``serve``.

Each request is acknowledged after its handler ran and its reply was sent, so a server
that dies mid-request leaves the request to another server (at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from stratus.common.rpc.amqp_layout import AmqpNames
from stratus.common.rpc.transport import InFlight, RequestHandler, address

log = logging.getLogger(__name__)

PREFETCH = 64  # unacknowledged requests one server takes at a time
STOP_TIMEOUT = 5.0  # seconds to wait for the broker when cancelling consumers

# Sends reply bytes to a reply queue with a correlation id.
ReplySender = Callable[[str, str | None, bytes], Awaitable[None]]


class AmqpListener:
    """One ``serve``: a channel consuming the shared, per-host and fan-out queues."""

    def __init__(
        self, channel: AbstractRobustChannel, handler: RequestHandler, reply: ReplySender
    ) -> None:
        self._reply = reply
        self._channel = channel
        self._handler = handler
        self._consumers: list[tuple[AbstractRobustQueue, str]] = []
        self._inflight = InFlight()
        self._stopped = False

    async def consume(self, queue: AbstractRobustQueue) -> None:
        tag = await queue.consume(self._on_message)
        self._consumers.append((queue, tag))

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._inflight.enter()
        try:
            reply = await self._handler(message.body)
            if reply is not None and message.reply_to:
                await self._reply(message.reply_to, message.correlation_id, reply)
            await message.ack()
        except Exception as exc:
            log.warning("could not acknowledge an RPC message (it will come again): %r", exc)
        finally:
            self._inflight.leave()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for queue, tag in self._consumers:
            try:
                await asyncio.wait_for(queue.cancel(tag), STOP_TIMEOUT)
            except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
                log.debug("cancelling consumer %s failed: %r", tag, exc)
        await self._inflight.wait_idle()
        await self._channel.close()


async def open_listener(
    conn: AbstractRobustConnection,
    names: AmqpNames,
    topic: str,
    host: str,
    *,
    handler: RequestHandler,
    reply: ReplySender,
) -> AmqpListener:
    """Declare the topic's queues and bindings (restored after a reconnection) and consume."""
    channel = await conn.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=PREFETCH)
    exchange = await channel.declare_exchange(
        names.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    fanout = await channel.declare_exchange(
        names.fanout_exchange(topic), aio_pika.ExchangeType.FANOUT, durable=True
    )
    listener = AmqpListener(channel, handler, reply)
    # The robust channel restores queues in the order they were declared. The fan-out
    # queue goes first: it is re-created empty after a reconnection, and a broadcast sent
    # once this server answers calls again must not find it missing.
    mine = names.fanout_queue(topic, uuid.uuid4().hex)
    queue = await channel.declare_queue(mine, exclusive=True, auto_delete=True)
    await queue.bind(fanout)
    await listener.consume(queue)
    for addr in (address(topic, host), topic):
        queue = await channel.declare_queue(names.queue(addr), durable=True)
        await queue.bind(exchange, addr)
        await listener.consume(queue)
    return listener

"""The AMQP 0-9-1 transport (RabbitMQ), on aio-pika's robust connection.

Casts and calls to ``topic`` and ``topic.host`` are persistent, confirmed by the broker and
go to durable queues (names in ``amqp_layout``). The sender of a cast declares the queue
too, so a cast waits for a server that is down. A call is published ``mandatory`` (no queue
bound: ``NoRoute`` at once) and expires with its timeout, so it never runs late; its reply
comes back on this client's exclusive reply queue, matched by correlation id.

The robust connection re-declares queues and consumers after a broker restart or a dropped
connection; publishing waits and retries until the caller's deadline. A message whose
confirmation was lost is sent again, so delivery is at least once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, PublishError
from yarl import URL

from stratus.common.rpc.amqp_layout import AmqpNames, safe_url
from stratus.common.rpc.amqp_listener import AmqpListener, open_listener
from stratus.common.rpc.errors import BusUnavailable
from stratus.common.rpc.transport import NoRoute, RequestHandler, TransportDown

log = logging.getLogger(__name__)

RECONNECT_INTERVAL = 1.0  # seconds between reconnection attempts, unless the URL says
RETRY_PAUSE = 0.25  # seconds between publish attempts while the broker is away
JSON = "application/json"


class AmqpTransport:
    def __init__(
        self, connection: AbstractRobustConnection, names: AmqpNames, reply_timeout: float
    ) -> None:
        self._conn = connection
        self._names = names
        self._reply_timeout = reply_timeout
        self._reply_queue = names.reply_queue(uuid.uuid4().hex)
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._declared: set[str] = set()
        self._fanouts: dict[str, AbstractExchange] = {}
        self._listeners: list[AmqpListener] = []
        self._closed = False

    @classmethod
    async def connect(cls, url: str, *, exchange: str, connect_timeout: float) -> AmqpTransport:
        interval = URL(url).query.get("reconnect_interval", str(RECONNECT_INTERVAL))
        name = f"stratus {exchange} {socket.gethostname()} pid {os.getpid()}"
        try:
            conn = await aio_pika.connect_robust(
                url,
                timeout=connect_timeout,
                client_properties={"connection_name": name},
                reconnect_interval=interval,
            )
        except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
            raise BusUnavailable(
                f"cannot reach the message bus at {safe_url(url)}: {exc!r}"
            ) from None
        self = cls(conn, AmqpNames(exchange), connect_timeout)
        try:
            await self._open()
        except BaseException:
            await conn.close()
            raise
        return self

    async def _open(self) -> None:
        self._channel = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await self._channel.declare_exchange(
            self._names.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._reply_channel = await self._conn.channel(publisher_confirms=False)
        replies = await self._reply_channel.declare_queue(
            self._reply_queue, exclusive=True, auto_delete=True
        )
        await replies.consume(self._on_reply, no_ack=True)
        self._conn.reconnect_callbacks.add(self._forget_declared)

    def _forget_declared(self, *_: object) -> None:
        self._declared.clear()
        self._fanouts.clear()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        waiter = self._pending.get(message.correlation_id or "")
        if waiter is not None and not waiter.done():
            waiter.set_result(message.body)

    async def send(self, address: str, payload: bytes, *, deadline: float) -> None:
        message = aio_pika.Message(
            payload, content_type=JSON, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
        )
        prepare = lambda: self._declare_queue(address)  # noqa: E731
        try:
            await self._publish(self._exchange, address, message, deadline, prepare=prepare)
        except NoRoute:  # the queue was deleted since we declared it
            self._declared.discard(address)
            await self._publish(self._exchange, address, message, deadline, prepare=prepare)

    async def _declare_queue(self, addr: str) -> None:
        if addr in self._declared:
            return
        queue = await self._channel.declare_queue(
            self._names.queue(addr), durable=True, robust=False
        )
        await queue.bind(self._exchange, addr, robust=False)
        self._declared.add(addr)

    async def request(self, address: str, payload: bytes, *, deadline: float) -> bytes:
        loop = asyncio.get_running_loop()
        correlation_id = uuid.uuid4().hex
        waiter: asyncio.Future[bytes] = loop.create_future()
        self._pending[correlation_id] = waiter
        message = aio_pika.Message(
            payload,
            content_type=JSON,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            correlation_id=correlation_id,
            reply_to=self._reply_queue,
            expiration=max(deadline - loop.time(), 0.001),
        )
        try:
            await self._publish(
                self._exchange, address, message, deadline, prepare=self._reply_channel.ready
            )
            async with asyncio.timeout_at(deadline):
                return await waiter
        finally:
            self._pending.pop(correlation_id, None)
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # retrieved: a close() while publishing logs nothing

    async def broadcast(self, topic: str, payload: bytes, *, deadline: float) -> None:
        message = aio_pika.Message(payload, content_type=JSON)
        exchange = await self._fanout_exchange(topic, deadline)
        await self._publish(exchange, "", message, deadline, mandatory=False)

    async def _fanout_exchange(self, topic: str, deadline: float) -> AbstractExchange:
        exchange = self._fanouts.get(topic)
        while exchange is None:
            try:
                async with asyncio.timeout_at(deadline):
                    exchange = await self._channel.declare_exchange(
                        self._names.fanout_exchange(topic),
                        aio_pika.ExchangeType.FANOUT,
                        durable=True,
                        robust=False,
                    )
            except TimeoutError:
                raise TransportDown("the broker did not answer in time") from None
            except CONNECTION_EXCEPTIONS as exc:
                await self._pause(deadline, exc)
        self._fanouts[topic] = exchange
        return exchange

    async def reply(self, reply_to: str, correlation_id: str | None, payload: bytes) -> None:
        message = aio_pika.Message(payload, content_type=JSON, correlation_id=correlation_id)
        deadline = asyncio.get_running_loop().time() + self._reply_timeout
        try:
            await self._publish(
                self._channel.default_exchange, reply_to, message, deadline, mandatory=False
            )
        except TransportDown as exc:
            log.warning("could not send an RPC reply to %s: %s", reply_to, exc)

    async def _publish(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        message: aio_pika.Message,
        deadline: float,
        *,
        mandatory: bool = True,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Publish with a confirm, waiting for the broker to come back until ``deadline``."""
        while True:
            if self._closed:
                raise TransportDown("the bus is closed")
            try:
                async with asyncio.timeout_at(deadline):
                    await self._channel.ready()
                    if prepare is not None:
                        await prepare()
                    await exchange.publish(message, routing_key, mandatory=mandatory)
                return
            except PublishError:
                raise NoRoute(routing_key) from None
            except TimeoutError:
                raise TransportDown("the broker did not take the message in time") from None
            except CONNECTION_EXCEPTIONS as exc:
                await self._pause(deadline, exc)

    async def _pause(self, deadline: float, exc: BaseException) -> None:
        loop = asyncio.get_running_loop()
        log.debug("broker unavailable, retrying: %r", exc)
        if loop.time() + RETRY_PAUSE >= deadline:
            raise TransportDown(f"the broker is unavailable: {exc!r}")
        await asyncio.sleep(RETRY_PAUSE)

    async def listen(self, topic: str, host: str, handler: RequestHandler) -> AmqpListener:
        listener = await open_listener(
            self._conn, self._names, topic, host, handler=handler, reply=self.reply
        )
        self._listeners.append(listener)
        return listener

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(TransportDown("the bus was closed"))
        for listener in self._listeners:
            await listener.stop()
        self._listeners.clear()
        await self._conn.close()

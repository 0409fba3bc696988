"""The bus every service talks through: typed casts, calls and fan-out over a transport."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import TypeVar, cast

from pydantic import BaseModel

from stratus.common import context
from stratus.common.config import BusSettings, ConfigError
from stratus.common.context import RequestContext
from stratus.common.rpc import envelope
from stratus.common.rpc.dispatcher import Dispatcher
from stratus.common.rpc.errors import BusUnavailable, NoServer, RpcTimeout
from stratus.common.rpc.memory import MemoryTransport
from stratus.common.rpc.messages import Call, Cast
from stratus.common.rpc.transport import Listener, NoRoute, Transport, TransportDown, address

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)


class Server:
    """A running ``serve``: ``stop()`` stops taking messages and waits for running handlers."""

    def __init__(self, listener: Listener, topic: str, host: str) -> None:
        self._listener = listener
        self.topic = topic
        self.host = host

    async def stop(self) -> None:
        await self._listener.stop()


class Bus:
    """Sends typed messages; the caller's request context travels with each of them.

    ``host`` picks one server (``compute.node1``) instead of any server of the topic.
    ``ctx`` defaults to the context bound in the current task, else a fresh one.
    """

    def __init__(self, transport: Transport, *, call_timeout: float = 30.0) -> None:
        self._transport = transport
        self.call_timeout = call_timeout
        self._servers: list[Server] = []

    async def cast(
        self,
        topic: str,
        msg: Cast,
        *,
        host: str | None = None,
        ctx: RequestContext | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline the broker must meet
    ) -> None:
        """Queue ``msg`` for one server; it waits in a durable queue if none is running.

        ``timeout`` bounds the wait for the broker to take the message (while it is away).
        """
        target = address(topic, host)
        payload = envelope.encode_request(msg, "cast", _context(ctx))
        try:
            await self._transport.send(target, payload, deadline=self._deadline(timeout))
        except NoRoute:
            raise BusUnavailable(f"cannot send {msg.wire_name}: no queue for {target}") from None
        except TransportDown as exc:
            raise BusUnavailable(f"cannot send {msg.wire_name} to {target}: {exc}") from None

    async def call(
        self,
        topic: str,
        msg: Call[R],
        *,
        host: str | None = None,
        ctx: RequestContext | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - also the request's expiry on the wire
    ) -> R:
        """Send ``msg`` to one server and return its reply, or raise the error it raised.

        Raises ``RpcTimeout`` (``rpc.timeout``) if no reply comes within ``timeout``
        (default: the bus's ``call_timeout``); the unanswered request expires unprocessed.
        """
        target = address(topic, host)
        limit = timeout or self.call_timeout
        payload = envelope.encode_request(msg, "call", _context(ctx))
        try:
            data = await self._transport.request(target, payload, deadline=self._deadline(limit))
        except TimeoutError:
            raise RpcTimeout(
                f"no reply to {msg.wire_name} from {target} within {limit:g}s"
            ) from None
        except NoRoute:
            raise NoServer(
                f"cannot call {msg.wire_name}: no server for {target} has ever started"
            ) from None
        except TransportDown as exc:
            raise BusUnavailable(f"cannot call {msg.wire_name} on {target}: {exc}") from None
        reply = envelope.decode_reply(data, type(msg).reply_type(), msg.wire_name)
        return cast(R, reply)

    async def fanout(self, topic: str, msg: Cast, *, ctx: RequestContext | None = None) -> None:
        """Deliver ``msg`` to every server of ``topic`` running now (none: dropped)."""
        address(topic)
        payload = envelope.encode_request(msg, "cast", _context(ctx))
        try:
            await self._transport.broadcast(topic, payload, deadline=self._deadline(None))
        except TransportDown as exc:
            raise BusUnavailable(f"cannot fan out {msg.wire_name} to {topic}: {exc}") from None

    def _deadline(self, timeout: float | None) -> float:
        return asyncio.get_running_loop().time() + (timeout or self.call_timeout)

    async def serve(self, topic: str, dispatcher: Dispatcher, *, host: str) -> Server:
        """Take messages for ``topic`` (shared), ``topic.host`` and the topic's fan-out."""
        address(topic, host)
        listener = await self._transport.listen(topic, host, dispatcher.dispatch)
        server = Server(listener, topic, host)
        self._servers.append(server)
        log.debug("serving %s on host %s", topic, host)
        return server

    async def close(self) -> None:
        """Stop every server started on this bus, then disconnect."""
        for server in self._servers:
            await server.stop()
        self._servers.clear()
        await self._transport.close()

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _context(ctx: RequestContext | None) -> RequestContext:
    return ctx or context.current() or RequestContext()


async def connect(
    url: str = "memory://", *, exchange: str = "stratus", call_timeout: float = 30.0
) -> Bus:
    """A bus on ``memory://[NAME]`` (in-process) or ``amqp://``/``amqps://`` (RabbitMQ)."""
    scheme = url.partition("://")[0].lower()
    transport: Transport
    if scheme == "memory":
        transport = MemoryTransport(url)
    elif scheme in ("amqp", "amqps"):
        from stratus.common.rpc.amqp import AmqpTransport  # noqa: PLC0415 - aio-pika on demand

        transport = await AmqpTransport.connect(
            url, exchange=exchange, connect_timeout=call_timeout
        )
    else:
        raise ConfigError(
            "config.invalid",
            f"bus.url must start with memory://, amqp:// or amqps://, not {scheme}://",
        )
    return Bus(transport, call_timeout=call_timeout)


async def connect_from_settings(settings: BusSettings) -> Bus:
    return await connect(
        settings.url, exchange=settings.exchange, call_timeout=settings.call_timeout
    )

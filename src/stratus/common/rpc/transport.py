"""What a transport does: move request bytes to servers and reply bytes back.

Addresses are ``topic`` (shared by every server of the topic, load-balanced) and
``topic.host`` (one server). Both name durable queues: a cast waits there for a server
that is down. Fan-out goes to every server listening on the topic at that moment.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Protocol

# Called with the request bytes; returns the reply bytes for a call, None for a cast.
RequestHandler = Callable[[bytes], Awaitable[bytes | None]]

TOPIC = re.compile(r"^[a-z][a-z0-9_-]*$")
HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class NoRoute(Exception):
    """No queue exists for the address (raised by ``request``)."""


class TransportDown(Exception):
    """The message could not be handed to the broker before the deadline."""


class Listener(Protocol):
    async def stop(self) -> None:
        """Stop taking messages, then wait for the handlers already running."""
        ...


class Transport(Protocol):
    """``deadline`` is in ``asyncio`` loop time: by then the broker took the message (or the
    call was answered), else ``TransportDown`` (or ``TimeoutError`` for a call)."""

    async def send(self, address: str, payload: bytes, *, deadline: float) -> None:
        """Queue a cast durably for one server of ``address``."""
        ...

    async def request(self, address: str, payload: bytes, *, deadline: float) -> bytes:
        """Send a call and wait for its reply; ``NoRoute`` if no queue exists for ``address``."""
        ...

    async def broadcast(self, topic: str, payload: bytes, *, deadline: float) -> None:
        """Deliver a cast to every server listening on ``topic`` now."""
        ...

    async def listen(self, topic: str, host: str, handler: RequestHandler) -> Listener:
        """Consume ``topic``, ``topic.host`` and the topic's fan-out."""
        ...

    async def close(self) -> None: ...


def address(topic: str, host: str | None = None) -> str:
    """``compute`` or ``compute.node1``; rejects names that would make addresses ambiguous."""
    if not TOPIC.match(topic):
        raise ValueError(f"invalid RPC topic {topic!r}: lower-case letters, digits, - and _")
    if host is None:
        return topic
    if not HOST.match(host):
        raise ValueError(f"invalid host name {host!r} for RPC")
    return f"{topic}.{host}"


class InFlight:
    """Counts running handlers so that stopping can wait for them to finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self._count += 1
        self._idle.clear()

    def leave(self) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()

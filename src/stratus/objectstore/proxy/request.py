"""A client request as the handlers see it: names, headers and query decoded strictly,
one ``X-Timestamp`` for the whole request, and the body as a stream of chunks.

Names and header values are decoded as strict UTF-8 from the raw bytes: a lenient decode
would store an object under a name the client never sent. The timestamp is taken once,
so every replica of a write carries the same version.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.types import Receive, Scope

from stratus.objectstore.proxy.auth import Caller
from stratus.objectstore.proxy.errors import ClientDisconnected, PreconditionFailed
from stratus.objectstore.storage.server_request import InvalidPath
from stratus.objectstore.storage.timestamp import Timestamp

_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})


@dataclass(slots=True)
class SwiftRequest:
    scope: Scope
    receive: Receive
    method: str
    account: str
    container: str | None
    obj: str | None
    headers: dict[str, str]
    query: dict[str, str]
    caller: Caller
    timestamp: Timestamp = field(default_factory=Timestamp.now)
    # the account's owner (or an admin), not someone let in by an ACL
    owner: bool = False

    @property
    def trans_id(self) -> str:
        ctx = self.scope.get("state", {}).get("ctx")
        return str(getattr(ctx, "request_id", ""))

    @property
    def object_name(self) -> ObjectName:
        assert self.container is not None and self.obj is not None
        return ObjectName(self.account, self.container, self.obj)

    def flag(self, name: str) -> bool:
        return self.headers.get(name, "").strip().lower() in _TRUE

    async def body(self, timeout: float) -> AsyncIterator[bytes]:  # noqa: ASYNC109
        """The request body piece by piece, each within ``timeout`` seconds; a client
        that disconnects or stalls raises ``ClientDisconnected``."""
        while True:
            try:
                async with asyncio.timeout(timeout):
                    message = await self.receive()
            except TimeoutError:
                raise ClientDisconnected(timed_out=True) from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnected(timed_out=False)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


def split_path(path: str) -> tuple[str, str | None, str | None]:
    """``/v1/{account}[/{container}[/{object}]]``; a trailing slash adds no level.

    A path without an account, or with an object but no container, is Swift's 412 "Bad
    URL"; a NUL anywhere is its 412 "Invalid UTF8 or contains NULL"."""
    if "\x00" in path:
        raise InvalidPath()
    parts = path.split("/", 4)
    if len(parts) < 3 or parts[0] != "" or parts[1] != "v1" or not parts[2]:
        raise PreconditionFailed("Bad URL")
    account = parts[2]
    container = parts[3] if len(parts) > 3 and parts[3] else None
    obj = parts[4] if len(parts) > 4 and parts[4] else None
    if obj is not None and container is None:
        raise PreconditionFailed("Bad URL")
    return account, container, obj


@dataclass(frozen=True, slots=True)
class ObjectName:
    """One object's full name; ``str()`` is Swift's ``/account/container/object``."""

    account: str
    container: str
    obj: str

    def __str__(self) -> str:
        return f"/{self.account}/{self.container}/{self.obj}"

"""Requests that middleware make to the rest of the pipeline, and responses they read.

A static large object's segments, a versioned object's archive copy, a bulk delete's
thousand DELETEs: each is an ordinary request sent down the pipeline below the
middleware that makes it, as the caller (``swift_scope.CALLER`` is inherited), so it is
authorised, quota-checked and placed exactly as a client's would be. Bodies stream both
ways through a one-slot queue, so neither side ever holds a whole object.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from urllib.parse import quote, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.auth import Caller

RawHeaders = list[tuple[bytes, bytes]]
_END = object()


class SubResponse:
    """A response being received: status and headers now, the body as it comes.

    Always ``aclose()`` it (or use ``async with``): that stops the request below if
    its body was not read to the end."""

    def __init__(
        self,
        status: int,
        headers: RawHeaders,
        task: asyncio.Task[None],
        queue: asyncio.Queue[object],
    ) -> None:
        self.status = status
        self.raw_headers = headers
        self._task = task
        self._queue = queue
        self._done = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str, default: str | None = None) -> str | None:
        """The last value of a header (name case-insensitive), decoded as UTF-8."""
        wanted = name.lower().encode("latin-1")
        found = default
        for key, value in self.raw_headers:
            if key.lower() == wanted:
                found = value.decode("utf-8", "surrogateescape")
        return found

    def headers(self) -> dict[str, str]:
        return {
            k.decode("latin-1").lower(): v.decode("utf-8", "surrogateescape")
            for k, v in self.raw_headers
        }

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self._done:
            item = await self._queue.get()
            if item is _END:
                self._done = True
                break
            if isinstance(item, BaseException):
                self._done = True
                raise item
            assert isinstance(item, bytes)
            if item:
                yield item

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; more than ``limit`` bytes raises ``ValueError``."""
        out = bytearray()
        async for chunk in self.chunks():
            out += chunk
            if limit is not None and len(out) > limit:
                raise ValueError(f"body over {limit} bytes")
        return bytes(out)

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def __aenter__(self) -> SubResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def capture(app: ASGIApp, scope: Scope, receive: Receive) -> SubResponse:
    """Run ``app`` on a request and return its response once its headers are sent.

    An exception the app raises before starting its response propagates here."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    started: asyncio.Future[tuple[int, RawHeaders]] = asyncio.get_running_loop().create_future()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            if not started.done():
                started.set_result((message["status"], list(message.get("headers", []))))
            return
        if message["type"] == "http.response.body":
            await queue.put(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                await queue.put(_END)

    async def run() -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:  # handed to whoever waits: the headers or the body
            if not started.done():
                started.set_exception(exc)
            else:
                await queue.put(exc)
        else:
            if not started.done():
                started.set_exception(RuntimeError("the app sent no response"))

    task = asyncio.create_task(run())
    try:
        status, headers = await asyncio.shield(started)
    except BaseException:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise
    return SubResponse(status, headers, task, queue)


def body_receiver(body: bytes | AsyncIterable[bytes] | None) -> Receive:
    """An ASGI ``receive`` that hands out ``body``, then waits (as a quiet client does)."""
    if body is None or isinstance(body, bytes):
        pieces: AsyncIterator[bytes] = _one(body or b"")
    else:
        pieces = aiter(body)
    finished = False

    async def receive() -> Message:
        nonlocal finished
        if finished:
            await asyncio.Event().wait()  # until cancelled with the request
        try:
            chunk = await anext(pieces)
            return {"type": "http.request", "body": chunk, "more_body": True}
        except StopAsyncIteration:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _one(body: bytes) -> AsyncIterator[bytes]:
    if body:
        yield body


def sub_scope(
    parent: Scope,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    source: str,
    caller: Caller | None = None,
) -> Scope:
    """A new request scope for ``path`` (decoded text), inheriting the parent's caller
    unless another is given, and marked internal."""
    raw_path = quote(path, safe="/").encode("ascii")
    query_string = urlencode(dict(query or {})).encode("ascii")
    scope: Scope = {
        key: value
        for key, value in parent.items()
        if key not in ("headers", "raw_path", "path", "query_string", "method")
    }
    scope.update(
        {
            "method": method,
            "path": path,
            "raw_path": raw_path,
            "query_string": query_string,
            "headers": [
                (k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in (headers or {}).items()
            ],
            "state": dict(parent.get("state", {})),
            swift_scope.INTERNAL: True,
            swift_scope.SOURCE: source,
        }
    )
    inherited = caller if caller is not None else swift_scope.caller_of(parent)
    if inherited is not None:
        scope[swift_scope.CALLER] = inherited
    return scope


async def subrequest(
    app: ASGIApp,
    parent: Scope,
    method: str,
    path: str,
    *,
    source: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    body: bytes | AsyncIterable[bytes] | None = None,
    caller: Caller | None = None,
) -> SubResponse:
    """Send one request down ``app`` and return its response (``aclose`` it)."""
    scope = sub_scope(
        parent, method, path, headers=headers, query=query, source=source, caller=caller
    )
    return await capture(app, scope, body_receiver(body))


async def relay(response: SubResponse, send: Send, headers: RawHeaders | None = None) -> None:
    """Send ``response`` on to the client (with ``headers`` instead of its own if given),
    then close it."""
    try:
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": response.raw_headers if headers is None else headers,
            }
        )
        async for chunk in response.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await response.aclose()


Picker = Callable[[int, RawHeaders], bool]


async def relay_unless(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, pick: Picker, *, keep: int
) -> SubResponse | None:
    """Run the request below; a response ``pick`` declines goes straight to the client
    as it comes (no task, no copy: the common case of a middleware that acts on a few
    responses only); one it picks is held back, its body kept up to ``keep`` bytes (the
    rest dropped), and returned as a finished ``SubResponse`` (``None`` otherwise)."""
    picked: list[object] = []
    body = bytearray()
    passing: bool | None = None

    async def intercept(message: Message) -> None:
        nonlocal passing
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            passing = not pick(message["status"], headers)
            if passing:
                await send(message)
            else:
                picked.extend((message["status"], headers))
        elif passing:
            await send(message)
        elif message["type"] == "http.response.body" and len(body) < keep:
            body.extend(message.get("body", b"")[: keep - len(body)])

    await app(scope, receive, intercept)
    if passing is not False:
        return None
    status, headers = picked
    assert isinstance(status, int) and isinstance(headers, list)
    return await finished(status, headers, bytes(body))


async def finished(status: int, headers: RawHeaders, body: bytes) -> SubResponse:
    """A ``SubResponse`` whose body is already known."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    if body:
        queue.put_nowait(body)
    queue.put_nowait(_END)
    done = asyncio.create_task(asyncio.sleep(0))
    return SubResponse(status, headers, done, queue)


def raw_header(headers: RawHeaders, name: bytes) -> bytes | None:
    """The last value of ``name`` (lower case) in raw headers."""
    found = None
    for key, value in headers:
        if key.lower() == name:
            found = value
    return found

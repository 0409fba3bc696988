"""Serving an object made of other objects: shared by static and dynamic large objects.

A large object is answered like any object (ETag, Content-Length, ``Range``,
``If-Match``...), but its body is a sequence of *pieces*, each a byte span of a segment
object, fetched one at a time with a GET subrequest and checked against what the
manifest says (status, ETag, size, length received). A segment that no longer matches
cannot be hidden once the headers are out: the response is cut short, so the client
sees a short read rather than wrong data. The first piece is opened before the headers
are sent, so a manifest whose first segment is gone answers 409, as Swift's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.objectstore.asgi_io import stream_unless_disconnected
from stratus.objectstore.proxy.errors import (
    ClientDisconnected,
    PreconditionFailed,
    TooLarge,
    conflict,
)
from stratus.objectstore.proxy.subrequest import RawHeaders, SubResponse, subrequest
from stratus.objectstore.storage.ranges import ByteRange, Unsatisfiable, parse_ranges

T = TypeVar("T")
PieceSource = Callable[[int, int], AsyncIterator["Piece"]]

# headers of the manifest object that describe its own body, not the large object's
_BODY_HEADERS = frozenset(
    {b"etag", b"content-length", b"content-range", b"accept-ranges", b"transfer-encoding"}
)


class SegmentError(Exception):
    """A segment is missing or differs from what the manifest recorded."""


@dataclass(frozen=True, slots=True)
class Piece:
    path: str  # /v1/account/container/object
    start: int  # the span of the segment to send
    stop: int
    etag: str | None  # what the whole segment must have (None: not checked)
    size: int | None
    data: bytes | None = None  # bytes kept in the manifest: sent as they are


@dataclass(frozen=True, slots=True)
class LargeObject:
    """What a response needs: the manifest's headers, the total size and ETag, and how
    to list the pieces of a byte span."""

    headers: RawHeaders
    size: int
    etag: str
    pieces: PieceSource


async def gather_bounded(calls: Iterable[Awaitable[T]], limit: int) -> list[T]:
    """Await ``calls`` with at most ``limit`` running at once; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def read_body(receive: Receive, limit: int, what: str) -> bytes:
    """A small request body (a manifest, a list of names); over ``limit`` is a 413."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected(timed_out=False)
        body += message.get("body", b"")
        if len(body) > limit:
            raise TooLarge(f"{what} > {limit} bytes")
        if not message.get("more_body", False):
            return bytes(body)


def check_conditions(headers: dict[str, str], etag: str, modified: str | None) -> int | None:
    """The status that ``If-Match``/``If-None-Match``/``If-(Un)Modified-Since`` call for
    (412 or 304), or ``None`` to answer normally."""
    if_match = headers.get("if-match")
    if if_match is not None and not _etag_listed(if_match, etag):
        return 412
    if_none = headers.get("if-none-match")
    if if_none is not None and _etag_listed(if_none, etag):
        return 304
    stamp = _date(modified)
    if stamp is not None:
        since = _date(headers.get("if-unmodified-since"))
        if if_match is None and since is not None and stamp > since:
            return 412
        since = _date(headers.get("if-modified-since"))
        if if_none is None and since is not None and stamp <= since:
            return 304
    return None


def _etag_listed(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or etag in tags


def _date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _header(headers: RawHeaders, name: bytes) -> str | None:
    found = [v for k, v in headers if k.lower() == name]
    return found[-1].decode("utf-8", "replace") if found else None


async def respond(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    obj: LargeObject,
    *,
    request_headers: dict[str, str],
    source: str,
) -> None:
    """Answer a GET or HEAD of ``obj``: conditions, range, then the pieces in order."""
    base = [(k, v) for k, v in obj.headers if k.lower() not in _BODY_HEADERS]
    base += [(b"etag", f'"{obj.etag}"'.encode()), (b"accept-ranges", b"bytes")]
    status = check_conditions(request_headers, obj.etag, _header(base, b"last-modified"))
    if status is not None:
        await _send_empty(send, status, base)
        return
    try:
        ranges = parse_ranges(request_headers.get("range"), obj.size)
    except Unsatisfiable:
        await _send_empty(send, 416, [*base, (b"content-range", f"bytes */{obj.size}".encode())])
        return
    # one range is served; several get the whole object (the multipart form is the
    # object server's, which a large object's assembled stream does not go through)
    span = ranges[0] if ranges is not None and len(ranges) == 1 else None
    whole = span or ByteRange(0, obj.size)
    headers = [*base, (b"content-length", str(whole.stop - whole.start).encode())]
    if span is not None:
        headers.append((b"content-range", span.content_range(obj.size).encode()))
    code = 206 if span else 200
    start: Message = {"type": "http.response.start", "status": code, "headers": headers}
    if scope["method"] == "HEAD" or whole.stop == whole.start:
        await send(start)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    pieces = obj.pieces(whole.start, whole.stop)
    failure = await stream_unless_disconnected(
        _stream(app, scope, send, start, pieces=pieces, source=source), receive
    )
    if failure is not None:  # before the headers: an error response; after: a cut
        raise failure


async def _send_empty(send: Send, status: int, headers: RawHeaders) -> None:
    if status == 412:
        raise PreconditionFailed
    out = [*headers, (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _stream(
    app: ASGIApp,
    scope: Scope,
    send: Send,
    start: Message,
    *,
    pieces: AsyncIterator[Piece],
    source: str,
) -> None:
    started = False
    try:
        async for piece in pieces:
            if piece.data is not None:
                if not started:
                    await send(start)
                    started = True
                await send({"type": "http.response.body", "body": piece.data, "more_body": True})
                continue
            try:
                sub = await open_piece(app, scope, piece, source)
            except SegmentError as exc:
                if not started:
                    raise conflict(str(exc)) from None
                raise
            async with sub:
                if not started:
                    await send(start)
                    started = True
                await _relay_piece(sub, piece, send)
    finally:
        with contextlib.suppress(Exception):
            await pieces.aclose()  # type: ignore[attr-defined]
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def open_piece(app: ASGIApp, scope: Scope, piece: Piece, source: str) -> SubResponse:
    """The segment's GET response for ``piece``, checked against the manifest."""
    whole = piece.size is not None and (piece.start, piece.stop) == (0, piece.size)
    headers = {} if whole else {"range": f"bytes={piece.start}-{piece.stop - 1}"}
    sub = await subrequest(app, scope, "GET", piece.path, source=source, headers=headers)
    problem = _mismatch(sub, piece, whole)
    if problem is not None:
        await sub.aclose()
        raise SegmentError(f"{piece.path}: {problem}")
    return sub


def _mismatch(sub: SubResponse, piece: Piece, whole: bool) -> str | None:
    if sub.status != (200 if whole else 206):
        return f"status {sub.status}"
    etag = (sub.header("etag") or "").strip('"')
    if piece.etag is not None and etag != piece.etag:
        return f"etag {etag} is not {piece.etag}"
    if whole:
        size = sub.header("content-length")
    else:
        size = (sub.header("content-range") or "").rpartition("/")[2]
    if piece.size is not None and size != str(piece.size):
        return f"size {size} is not {piece.size}"
    return None


async def _relay_piece(sub: SubResponse, piece: Piece, send: Send) -> None:
    remaining = piece.stop - piece.start
    async for chunk in sub.chunks():
        if len(chunk) > remaining:
            raise SegmentError(f"{piece.path}: longer than expected")
        remaining -= len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    if remaining:
        raise SegmentError(f"{piece.path}: {remaining} bytes short")

"""One object body streamed to every replica at once, never held whole in memory.

Each replica gets a ``Putter``: an httpx request whose body is fed from a small queue,
so the client's upload moves at the pace of the slowest live replica and memory stays at
a few chunks per replica. A replica is *connected* once httpx starts pulling its body
(the request line and headers are sent); before reading any of the client's body the
proxy waits for that on enough nodes, replacing failed primaries with handoffs, and
gives up with 503 when fewer than a quorum are connected — so a PUT that cannot succeed
stores nothing. The proxy hashes the body once (MD5 and CRC-32) as it streams and sends
both after it (``storage/body_footer.py``), so the replicas need not hash it with MD5
three more times. Aborting cancels the requests mid-body: each object server sees its
client vanish and discards its temp file, so a failed upload leaves nothing visible.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass

import httpx

from stratus.objectstore.proxy.backend import UNREACHABLE, Backend, Reply
from stratus.objectstore.proxy.errors import ClientDisconnected, QuorumLost, TooLarge
from stratus.objectstore.proxy.placement import Placement
from stratus.objectstore.proxy.replicas import PathFor
from stratus.objectstore.ring.devices import Device
from stratus.objectstore.storage import body_footer
from stratus.objectstore.storage.body_footer import BodyDigest

QUEUE_CHUNKS = 4  # chunks buffered per replica: bounds memory, absorbs jitter


class Putter:
    """One backend PUT connection, fed chunk by chunk."""

    def __init__(self, backend: Backend, dev: Device, path: str, headers: Mapping[str, str]):
        self.dev = dev
        self.backend = backend
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self.connected = asyncio.Event()
        request = backend.build(dev, path, "PUT", headers, content=self._body())
        self.task = asyncio.ensure_future(self._send(request))

    async def _body(self) -> AsyncIterator[bytes]:
        self.connected.set()
        while (chunk := await self.queue.get()) is not None:
            yield chunk

    async def _send(self, request: httpx.Request) -> Reply:
        try:
            response = await self.backend.send(request)
        except httpx.HTTPError as exc:
            self.backend.failed(self.dev, exc)
            return Reply(UNREACHABLE, httpx.Headers())
        self.backend.judge(self.dev, response.status_code)
        return Reply(response.status_code, response.headers, response.content)

    async def ready(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until the node takes the body, or its request fails."""
        waiter = asyncio.ensure_future(self.connected.wait())
        await asyncio.wait({waiter, self.task}, timeout=timeout, return_when="FIRST_COMPLETED")
        waiter.cancel()
        return self.connected.is_set() and not self.task.done()

    async def feed(self, chunk: bytes | None, timeout: float) -> bool:  # noqa: ASYNC109
        """Queue a chunk (``None``: the end); False once this node can take no more."""
        if self.task.done():
            return False
        if not self.queue.full():  # the common case: no task, no wait
            self.queue.put_nowait(chunk)
            return True
        put = asyncio.ensure_future(self.queue.put(chunk))
        done, _ = await asyncio.wait(
            {put, self.task}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        if put in done:
            return True
        put.cancel()
        self.abort()
        return False

    async def result(self, timeout: float) -> Reply:  # noqa: ASYNC109
        try:
            return await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except TimeoutError:
            self.abort()
            return Reply(UNREACHABLE, httpx.Headers())

    def abort(self) -> None:
        self.task.cancel()


@dataclass(slots=True)
class Uploaded:
    replies: list[Reply]
    size: int
    etag: str  # the body's MD5 hex, which every replica that stored it took as its ETag


async def connect(
    backend: Backend,
    nodes: Iterator[Device],
    path: PathFor,
    headers: Mapping[str, str],
    *,
    placement: Placement,
    timeout: float,  # noqa: ASYNC109
) -> list[Putter]:
    """Up to one connected putter per replica, taking nodes in order until enough
    answer; ``QuorumLost`` (nothing sent) when fewer than a quorum do. The body they are
    told of ends with its digests (``stream`` sends them)."""
    headers = with_footer(headers)
    live: list[Putter] = []
    replicas = placement.replicas
    while len(live) < replicas:
        batch = [
            Putter(backend, d, path(d), headers)
            for d in itertools.islice(nodes, replicas - len(live))
        ]
        if not batch:
            break
        oks = await asyncio.gather(*(p.ready(timeout) for p in batch))
        for putter, ok in zip(batch, oks, strict=True):
            if ok:
                live.append(putter)
            else:
                putter.abort()
    if len(live) < placement.quorum:
        for putter in live:
            putter.abort()
        raise QuorumLost
    return live


async def stream(
    putters: list[Putter],
    body: AsyncIterator[bytes],
    *,
    quorum: int,
    max_size: int,
    length: int | None,
    node_timeout: float,
) -> Uploaded:
    """Send the body, then its digests, to every putter; abort all of them on any failure.

    The MD5 (the ETag) is computed here once: each object server checks the CRC-32 of
    what it received against the one sent, and a client's ``ETag`` against the MD5, and
    answers with the MD5 it stored, which must be this one."""
    size = 0
    md5 = hashlib.md5(usedforsecurity=False)
    crc = 0
    try:
        async for chunk in body:
            size += len(chunk)
            if size > max_size:
                raise TooLarge
            md5.update(chunk)
            crc = zlib.crc32(chunk, crc)
            putters = await _feed_all(putters, chunk, quorum, node_timeout)
        if length is not None and size != length:
            raise ClientDisconnected(timed_out=False)
        digest = BodyDigest(md5.hexdigest(), crc)
        putters = await _feed_all(putters, digest.footer(), quorum, node_timeout)
        putters = await _feed_all(putters, None, quorum, node_timeout)
        replies = await asyncio.gather(*(p.result(node_timeout) for p in putters))
    except BaseException:
        for putter in putters:
            putter.abort()
        raise
    stored = agreed_etag(replies)
    if stored and stored != digest.etag:
        raise QuorumLost("Object servers stored other data than was sent")
    return Uploaded(list(replies), size, stored)


def with_footer(headers: Mapping[str, str]) -> dict[str, str]:
    """A PUT's headers for a body followed by its digests: announced, and counted in a
    fixed ``Content-Length``."""
    out = {**headers, body_footer.HEADER: body_footer.KIND}
    for name, value in headers.items():
        if name.lower() == "content-length":
            out[name] = str(int(value) + body_footer.LENGTH)
    return out


def agreed_etag(replies: Iterable[Reply]) -> str:
    """The ETag the successful replicas report; ``QuorumLost`` if they differ (the body
    reached them differently: nothing may be acknowledged)."""
    etags = {r.headers.get("etag", "").strip('"').lower() for r in replies if r.ok}
    if len(etags) > 1:
        raise QuorumLost("Object servers stored different data")
    return etags.pop() if etags else ""


async def _feed_all(
    putters: list[Putter],
    chunk: bytes | None,
    quorum: int,
    timeout: float,  # noqa: ASYNC109
) -> list[Putter]:
    oks = await asyncio.gather(*(p.feed(chunk, timeout) for p in putters))
    live = [p for p, ok in zip(putters, oks, strict=True) if ok]
    if len(live) < quorum:
        for putter in live:
            putter.abort()
        raise QuorumLost
    return live

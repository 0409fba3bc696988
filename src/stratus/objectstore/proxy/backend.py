"""The proxy's HTTP client for the storage servers: pooled connections, bounded waits.

One ``BackendTransport`` keeps connections to every node alive across requests (a pool
whose cost does not grow with its size); requests are httpx's types, handed to the
transport directly rather than through an ``httpx.AsyncClient``, whose cookie jar,
redirect and auth steps took a fifth of the proxy's CPU per small PUT (six backend
requests each) for nothing a storage server uses. Each call has a connect timeout (a dead
node must be given up quickly, so a handoff can take its place) and a per-read/write
``node_timeout``. A node that cannot be reached, times out or answers 5xx is reported to
the ``ErrorLimiter``; callers see it as status 0 or the 5xx and decide what a quorum
means. Header values go out as UTF-8 bytes, since metadata may hold any text and httpx
would encode ``str`` values as ASCII.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from stratus.objectstore.proxy.backend_transport import BackendTransport
from stratus.objectstore.proxy.placement import ErrorLimiter
from stratus.objectstore.ring.devices import Device

log = logging.getLogger(__name__)

RawHeaders = list[tuple[bytes, bytes]]
UNREACHABLE = 0


@dataclass(frozen=True, slots=True)
class Reply:
    """A backend's whole (small) answer; ``status`` 0 when the node was not reached."""

    status: int
    headers: httpx.Headers
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def backend_path(dev: Device, part: int, *names: str) -> str:
    """``/<device>/<partition>/<account>/...`` percent-encoded; dots too, so that an
    object named ``a/../b`` is not collapsed by URL normalisation on the way."""
    segments = [quote(dev.device, safe=""), str(part)]
    segments += [
        quote(n, safe="/" if i == 2 else "").replace(".", "%2E") for i, n in enumerate(names)
    ]
    return "/" + "/".join(segments)


def encode_headers(headers: Mapping[str, str]) -> RawHeaders:
    return [(k.encode("latin-1"), v.encode("utf-8")) for k, v in headers.items()]


class Backend:
    def __init__(
        self,
        limiter: ErrorLimiter,
        *,
        conn_timeout: float = 0.5,
        node_timeout: float = 10.0,
    ) -> None:
        self.limiter = limiter
        self.node_timeout = node_timeout
        self.transport = BackendTransport()
        self._timeouts = {  # httpx's per-request "timeout" extension
            "connect": conn_timeout,
            "read": node_timeout,
            "write": node_timeout,
            "pool": node_timeout,
        }

    def build(
        self,
        dev: Device,
        path: str,
        method: str,
        headers: Mapping[str, str],
        *,
        query: bytes = b"",
        content: bytes | AsyncIterator[bytes] = b"",
    ) -> httpx.Request:
        host = f"[{dev.ip}]" if ":" in dev.ip else dev.ip
        url = httpx.URL(f"http://{host}:{dev.port}{path}")
        if query:
            url = url.copy_with(query=query)
        return httpx.Request(
            method,
            url,
            headers=encode_headers(headers),
            content=content,
            extensions={"timeout": self._timeouts},
        )

    async def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """The node's answer; its body read whole unless ``stream`` (then the caller must
        ``aclose`` it). Failures are httpx's errors, as the transport raises them."""
        response = await self.transport.handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def call(
        self,
        dev: Device,
        path: str,
        method: str,
        headers: Mapping[str, str],
        *,
        query: bytes = b"",
        content: bytes | AsyncIterator[bytes] = b"",
    ) -> Reply:
        """Send a request and read the whole answer (listings, HEADs, small writes)."""
        request = self.build(dev, path, method, headers, query=query, content=content)
        try:
            response = await self.send(request)
        except httpx.HTTPError as exc:
            self.failed(dev, exc)
            return Reply(UNREACHABLE, httpx.Headers())
        self.judge(dev, response.status_code)
        return Reply(response.status_code, response.headers, response.content)

    async def open(
        self, dev: Device, path: str, method: str, headers: Mapping[str, str]
    ) -> httpx.Response | None:
        """Send a request and return the response with its body still unread (the caller
        must ``aclose`` it); ``None`` when the node was not reached."""
        request = self.build(dev, path, method, headers)
        try:
            response = await self.send(request, stream=True)
        except httpx.HTTPError as exc:
            self.failed(dev, exc)
            return None
        self.judge(dev, response.status_code)
        return response

    def failed(self, dev: Device, exc: BaseException) -> None:
        log.warning("backend %s failed: %r", dev.address, exc)
        self.limiter.record(dev)

    def judge(self, dev: Device, status: int) -> None:
        """507 means the disk is gone: skip the node at once; other 5xx count up."""
        if status == 507:
            self.limiter.record(dev, fatal=True)
        elif status >= 500:
            self.limiter.record(dev)

    async def aclose(self) -> None:
        await self.transport.aclose()

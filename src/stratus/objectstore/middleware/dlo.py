"""Dynamic large objects: an object whose ``X-Object-Manifest: <container>/<prefix>``
makes it read as every object under that prefix, concatenated in name order.

Nothing is checked when the manifest is written: the segments are whatever the
container lists at read time (paged through listing subrequests), so a GET reflects
segments added or replaced since. The ETag is Swift's, the MD5 of the segments'
ETags joined; ranges and conditions work as for any object (``large_objects``).
``?multipart-manifest=get`` reads the manifest object itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.objectstore.middleware.large_objects import LargeObject, Piece, respond
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import bad_request
from stratus.objectstore.proxy.subrequest import (
    RawHeaders,
    SubResponse,
    raw_header,
    relay,
    relay_unless,
    subrequest,
)
from stratus.objectstore.proxy.swift_scope import RequestView

SOURCE = "dlo"
MANIFEST_HEADER = "x-object-manifest"
MAX_SEGMENTS = 100_000  # a listing longer than this is refused rather than buffered
_LISTING_LIMIT = 10_000


class DynamicLargeObjects:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        cluster.capabilities["dlo"] = {"max_segments": MAX_SEGMENTS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = RequestView.of(scope)
        if view is None or view.obj is None:
            await self.app(scope, receive, send)
            return
        if view.method in ("PUT", "POST") and MANIFEST_HEADER in view.headers:
            split_manifest(view.headers[MANIFEST_HEADER])  # refuse a malformed one now
        if view.method not in ("GET", "HEAD") or view.query.get("multipart-manifest") == "get":
            await self.app(scope, receive, send)
            return

        def pick(status: int, headers: RawHeaders) -> bool:
            if status == 416:
                return view.method == "GET"
            return 200 <= status < 300 and raw_header(headers, MANIFEST_HEADER.encode()) is not None

        # a manifest's own body is not needed; a 416's (a line of text) may be relayed
        found = await relay_unless(self.app, scope, receive, send, pick, keep=1 << 16)
        if found is None:
            return  # not a manifest: already on its way to the client
        sub = found
        if sub.status == 416:
            sub = await self._unless_manifest(scope, view.path, sub)
        manifest = sub.header(MANIFEST_HEADER) if sub.ok else None
        if manifest is None:
            await relay(sub, send)
            return
        async with sub:
            large = await self._large_object(scope, view.account, sub, manifest)
        await respond(
            self.app, scope, receive, send, large, request_headers=view.headers, source=SOURCE
        )

    async def _unless_manifest(self, scope: Scope, path: str, refused: SubResponse) -> SubResponse:
        """A range the manifest's own (empty) body cannot satisfy may suit the whole."""
        probe = await subrequest(self.app, scope, "HEAD", path, source=SOURCE)
        if probe.ok and probe.header(MANIFEST_HEADER) is not None:
            await refused.aclose()
            return probe
        await probe.aclose()
        return refused

    async def _large_object(
        self, scope: Scope, account: str, sub: SubResponse, manifest: str
    ) -> LargeObject:
        container, prefix = split_manifest(manifest)
        listed = await self._segments(scope, account, container, prefix)
        digest = hashlib.md5(usedforsecurity=False)
        for _, _, etag in listed:
            digest.update(etag.encode())
        base = f"/v1/{account}/{container}/"

        async def pieces(start: int, stop: int) -> AsyncIterator[Piece]:
            offset = 0
            for name, size, etag in listed:
                first, offset = offset, offset + size
                if offset <= start or size == 0:
                    continue
                if first >= stop:
                    return
                lo, hi = max(start, first) - first, min(stop, offset) - first
                yield Piece(base + name, lo, hi, etag, size)

        total = sum(size for _, size, _ in listed)
        return LargeObject(sub.raw_headers, total, digest.hexdigest(), pieces)

    async def _segments(
        self, scope: Scope, account: str, container: str, prefix: str
    ) -> list[tuple[str, int, str]]:
        """``(name, bytes, hash)`` of every object under ``prefix``, in name order."""
        listed: list[tuple[str, int, str]] = []
        marker = ""
        while len(listed) <= MAX_SEGMENTS:
            query = {"format": "json", "prefix": prefix, "marker": marker}
            path = f"/v1/{account}/{container}"
            async with await subrequest(
                self.app, scope, "GET", path, source=SOURCE, query=query
            ) as sub:
                if not sub.ok:
                    return listed
                page = json.loads(await sub.read(64 * 1024 * 1024) or b"[]")
            listed += [(str(e["name"]), int(e["bytes"]), str(e["hash"])) for e in page]
            if len(page) < _LISTING_LIMIT:
                return listed
            marker = listed[-1][0]
        raise bad_request(f"More than {MAX_SEGMENTS} segments")


def split_manifest(value: str) -> tuple[str, str]:
    """``<container>/<prefix>``, percent-decoded as clients send it."""
    container, _, prefix = unquote(value.strip()).lstrip("/").partition("/")
    if not container or "/" not in unquote(value.strip()).lstrip("/"):
        raise bad_request("X-Object-Manifest must be in the format container/prefix")
    return container, prefix

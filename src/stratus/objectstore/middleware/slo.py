"""Static large objects: an object assembled from a fixed list of segment objects.

``PUT ?multipart-manifest=put`` takes the segment list, checks every segment with a HEAD
subrequest (a few at a time), and stores the manifest as an ordinary object marked
``X-Static-Large-Object: True`` whose sysmeta records the total size and Swift's SLO
ETag; the container listing is told that size and ETag instead of the manifest's own.
A GET or HEAD of it answers for the whole: ``large_objects.respond`` streams the
segments (nested manifests included, down to ``MAX_DEPTH``). ``?multipart-manifest=get``
reads the manifest itself, ``DELETE ?multipart-manifest=delete`` removes the segments
with it. Every subrequest goes below this middleware, as the caller.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.common.asgi.faults import title
from stratus.objectstore.middleware import bulk_report, slo_delete
from stratus.objectstore.middleware.large_objects import (
    LargeObject,
    Piece,
    SegmentError,
    gather_bounded,
    read_body,
    respond,
)
from stratus.objectstore.middleware.slo_manifest import (
    SegmentSpec,
    StoredSegment,
    parse_put,
    parse_stored,
    resolve_range,
    slo_etag,
    stored_to_raw,
    to_stored,
)
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import EtagMismatch, bad_request
from stratus.objectstore.proxy.subrequest import (
    RawHeaders,
    SubResponse,
    raw_header,
    relay,
    relay_unless,
    subrequest,
)
from stratus.objectstore.proxy.swift_scope import RequestView
from stratus.objectstore.storage.conditions import ETAG_IS_AT

SOURCE = "slo"
MAX_MANIFEST_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MIN_SEGMENT_SIZE = 1
MAX_DEPTH = 10  # nested manifests followed on a GET
HEAD_CONCURRENCY = 8
SLO_HEADER = "x-static-large-object"
SYSMETA_ETAG = "x-object-sysmeta-slo-etag"
SYSMETA_SIZE = "x-object-sysmeta-slo-size"
OVERRIDE_ETAG = "x-object-sysmeta-container-update-override-etag"
OVERRIDE_SIZE = "x-object-sysmeta-container-update-override-size"
_NOT_FORWARDED = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "etag",
        SLO_HEADER,
        "x-object-manifest",
        "range",
        "if-match",
    }
)


_TRUE = (b"true", b"1", b"yes", b"on")


def is_manifest(response: SubResponse) -> bool:
    return (response.header(SLO_HEADER) or "").strip().lower().encode() in _TRUE


class StaticLargeObjects:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        cluster.capabilities["slo"] = {
            "max_manifest_segments": MAX_MANIFEST_SEGMENTS,
            "max_manifest_size": MAX_MANIFEST_SIZE,
            "min_segment_size": MIN_SEGMENT_SIZE,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = RequestView.of(scope)
        if view is None or view.obj is None:
            await self.app(scope, receive, send)
            return
        mode = view.query.get("multipart-manifest")
        if view.method == "PUT" and mode == "put":
            await self.put_manifest(scope, receive, send, view)
        elif view.method == "PUT" and SLO_HEADER in view.headers:
            raise bad_request(
                "X-Static-Large-Object is a reserved header. To create a static large "
                "object add query param multipart-manifest=put."
            )
        elif view.method in ("GET", "HEAD"):
            await self.read(scope, receive, send, view, mode)
        elif view.method == "DELETE" and mode == "delete":
            await slo_delete.delete(self.app, scope, send, view)
        else:
            await self.app(scope, receive, send)

    # -- PUT ?multipart-manifest=put ------------------------------------------------

    async def put_manifest(
        self, scope: Scope, receive: Receive, send: Send, view: RequestView
    ) -> None:
        body = await read_body(receive, MAX_MANIFEST_SIZE, "Manifest File")
        specs = parse_put(body, MAX_MANIFEST_SEGMENTS)
        heads = await gather_bounded(
            (self._head(scope, view.account, s) for s in specs), HEAD_CONCURRENCY
        )
        problems, segments = _check_segments(specs, heads)
        if problems:
            content_type = bulk_report.report_type(view.headers.get("accept"))
            report = bulk_report.render(content_type, {}, problems, "delete")
            await _send(send, 400, content_type, report)
            return
        etag = slo_etag(segments)
        given = view.headers.get("etag", "").strip('"')
        if given and given != etag:
            raise EtagMismatch
        stored = to_stored(segments, [h.content_type for h in heads], [h.modified for h in heads])
        headers = {k: v for k, v in view.headers.items() if k not in _NOT_FORWARDED}
        size = str(sum(s.length for s in segments))
        headers |= {
            SLO_HEADER: "True",
            SYSMETA_ETAG: etag,
            SYSMETA_SIZE: size,
            OVERRIDE_ETAG: etag,
            OVERRIDE_SIZE: size,
            "content-length": str(len(stored)),
        }
        sub = await subrequest(
            self.app, scope, "PUT", view.path, source=SOURCE, headers=headers, body=stored
        )
        reply = [(k, v) for k, v in sub.raw_headers if k.lower() != b"etag"]
        await relay(sub, send, [*reply, (b"etag", f'"{etag}"'.encode())] if sub.ok else None)

    async def _head(self, scope: Scope, account: str, spec: SegmentSpec) -> SegmentHead:
        if spec.data is not None:
            return SegmentHead(200, len(spec.data), spec.etag or "", "", "", sub_slo=False)
        path = f"/v1/{account}/{spec.container}/{spec.obj}"
        async with await subrequest(self.app, scope, "HEAD", path, source=SOURCE) as sub:
            return SegmentHead.of(sub)

    # -- GET / HEAD -------------------------------------------------------------------

    async def read(
        self, scope: Scope, receive: Receive, send: Send, view: RequestView, mode: str | None
    ) -> None:
        if mode != "get":  # conditions compare with the large object's ETag
            scope = {**scope, "headers": _with_etag_at(scope["headers"])}
        retry_range = view.method == "GET" and mode != "get"

        def pick(status: int, headers: RawHeaders) -> bool:
            if status == 416:
                return retry_range
            flag = raw_header(headers, SLO_HEADER.encode()) or b""
            return 200 <= status < 300 and flag.strip().lower() in _TRUE

        found = await relay_unless(
            self.app, scope, receive, send, pick, keep=MAX_MANIFEST_SIZE * 2 + 1
        )
        if found is None:
            return  # not a manifest: already on its way to the client
        sub = found
        if sub.status == 416:
            sub = await self._unless_manifest(scope, view.path, sub)
        if not (sub.ok and is_manifest(sub)):
            await relay(sub, send)
            return
        if mode == "get":
            await _send_manifest(sub, send, view)
            return
        if sub.status == 206 or (view.method == "HEAD" and sub.header(SYSMETA_SIZE) is None):
            await sub.aclose()  # the client's range applied to the manifest itself
            sub = await subrequest(self.app, scope, "GET", view.path, source=SOURCE)
        async with sub:
            large = await self._large_object(scope, view.account, sub)
        await respond(
            self.app, scope, receive, send, large, request_headers=view.headers, source=SOURCE
        )

    async def _unless_manifest(self, scope: Scope, path: str, refused: SubResponse) -> SubResponse:
        """A range the manifest's own body cannot satisfy may suit the large object."""
        async with await subrequest(self.app, scope, "HEAD", path, source=SOURCE) as probe:
            if not (probe.ok and is_manifest(probe)):
                return refused
        await refused.aclose()
        return await subrequest(self.app, scope, "GET", path, source=SOURCE)

    async def _large_object(self, scope: Scope, account: str, sub: SubResponse) -> LargeObject:
        """What to answer for the manifest ``sub`` (a HEAD needs only its sysmeta)."""
        size, etag = sub.header(SYSMETA_SIZE), sub.header(SYSMETA_ETAG)
        segments: list[StoredSegment] | None = None
        if scope["method"] == "GET" or size is None or etag is None:
            segments = _parse(await sub.read(MAX_MANIFEST_SIZE * 2))
            size, etag = str(sum(s.length for s in segments)), slo_etag(segments)

        async def pieces(start: int, stop: int) -> AsyncIterator[Piece]:
            assert segments is not None
            async for piece in self._pieces(
                scope, account, segments, start=start, stop=stop, depth=1
            ):
                yield piece

        return LargeObject(sub.raw_headers, int(size), etag, pieces)

    async def _pieces(
        self,
        scope: Scope,
        account: str,
        segments: list[StoredSegment],
        *,
        start: int,
        stop: int,
        depth: int,
    ) -> AsyncIterator[Piece]:
        """The spans of segments that make up bytes ``start:stop`` of the manifest."""
        offset = 0
        for seg in segments:
            first, offset = offset, offset + seg.length
            if offset <= start:
                continue
            if first >= stop:
                return
            lo = max(start, first) - first + seg.start
            hi = min(stop, offset) - first + seg.start
            if seg.data is not None:
                yield Piece("", lo, hi, None, None, seg.data[lo:hi])
                continue
            container, obj = seg.container_and_object()
            path = f"/v1/{account}/{container}/{obj}"
            if not seg.sub_slo:
                yield Piece(path, lo, hi, seg.etag, seg.size)
                continue
            if depth >= MAX_DEPTH:
                raise SegmentError(f"{path}: max recursion depth exceeded")
            inner = await self._sub_manifest(scope, path, seg.etag)
            async for piece in self._pieces(
                scope, account, inner, start=lo, stop=hi, depth=depth + 1
            ):
                yield piece

    async def _sub_manifest(self, scope: Scope, path: str, etag: str) -> list[StoredSegment]:
        async with await subrequest(self.app, scope, "GET", path, source=SOURCE) as sub:
            if not sub.ok or not is_manifest(sub):
                raise SegmentError(f"{path}: sub-manifest gone (status {sub.status})")
            segments = _parse(await sub.read(MAX_MANIFEST_SIZE * 2))
        if slo_etag(segments) != etag:
            raise SegmentError(f"{path}: sub-manifest changed")
        return segments


@dataclass(frozen=True, slots=True)
class SegmentHead:
    """What a HEAD of a segment said: status, size, etag, type, and whether it is
    itself a manifest (then size and etag are the large object's)."""

    status: int
    size: int
    etag: str
    content_type: str
    modified: str
    sub_slo: bool

    @classmethod
    def of(cls, sub: SubResponse) -> SegmentHead:
        nested = is_manifest(sub)
        size = sub.header(SYSMETA_SIZE if nested else "content-length") or "0"
        etag = sub.header(SYSMETA_ETAG if nested else "etag") or ""
        return cls(
            sub.status,
            int(size) if size.isdigit() else 0,
            etag.strip('"'),
            sub.header("content-type") or "application/octet-stream",
            _iso_time(sub.header("x-timestamp")),
            nested,
        )


def _iso_time(timestamp: str | None) -> str:
    try:
        when = datetime.datetime.fromtimestamp(float(timestamp or "0"), datetime.UTC)
    except ValueError:
        when = datetime.datetime.fromtimestamp(0, datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _check_segments(
    specs: list[SegmentSpec], heads: list[SegmentHead]
) -> tuple[list[tuple[str, str]], list[StoredSegment]]:
    """Swift's per-segment problems, and the stored entries when there are none."""
    problems: list[tuple[str, str]] = []
    segments: list[StoredSegment] = []
    last = len(specs) - 1
    for i, (spec, head) in enumerate(zip(specs, heads, strict=True)):
        if not 200 <= head.status < 300:
            problems.append((spec.display, f"{head.status} {title(head.status)}"))
            continue
        if spec.size is not None and spec.size != head.size:
            problems.append((spec.display, "Size Mismatch"))
        if spec.etag is not None and spec.etag != head.etag:
            problems.append((spec.display, "Etag Mismatch"))
        bounds = resolve_range(spec.byte_range, head.size)
        if bounds is None:
            problems.append((spec.display, "Unsatisfiable Range"))
            continue
        if i < last and bounds[1] - bounds[0] < MIN_SEGMENT_SIZE:
            problems.append(
                (spec.display, f"Too small; each segment must be at least {MIN_SEGMENT_SIZE} byte.")
            )
        name = "" if spec.data is not None else spec.display
        segments.append(StoredSegment(name, head.size, head.etag, *bounds, head.sub_slo, spec.data))
    return problems, segments


def _parse(body: bytes) -> list[StoredSegment]:
    try:
        return parse_stored(body)
    except (ValueError, KeyError, TypeError):
        raise SegmentError("the manifest is not valid") from None


def _with_etag_at(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Add the SLO ETag's key to ``X-Backend-Etag-Is-At``, after any a middleware above
    already named (the object server uses the first key the object has)."""
    name = ETAG_IS_AT.encode()
    named = [v for k, v in headers if k.lower() == name]
    value = b",".join([*named, SYSMETA_ETAG.encode()])
    return [*(h for h in headers if h[0].lower() != name), (name, value)]


async def _send_manifest(sub: SubResponse, send: Send, view: RequestView) -> None:
    """``?multipart-manifest=get``: the stored manifest (``format=raw``: the PUT form)."""
    async with sub:
        body = b"" if view.method == "HEAD" else await sub.read(MAX_MANIFEST_SIZE * 2)
    if view.query.get("format") == "raw" and body:
        body = stored_to_raw(body)
    raw = view.query.get("format") == "raw"
    dropped = (b"content-length", b"content-type", b"etag" if raw else b"")
    keep = [(k, v) for k, v in sub.raw_headers if k.lower() not in dropped]
    headers = [*keep, (b"content-type", b"application/json; charset=utf-8")]
    if view.method == "HEAD":
        headers.append((b"content-length", (sub.header("content-length") or "0").encode()))
    else:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": sub.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

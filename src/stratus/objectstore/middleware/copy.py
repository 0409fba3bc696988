"""Server-side copy as a client sees it: ``COPY`` with ``Destination``, and ``PUT`` with
``X-Copy-From``, done as a GET of the source and a PUT of the destination.

Swift puts copy above the large-object middleware, and so does this one: the GET goes
through them, so copying a static or dynamic large object copies its assembled data
(a plain object, limited to the largest single PUT), while ``?multipart-manifest=get``
copies the manifest itself (a static one is PUT again with ``multipart-manifest=put``,
so its segments are checked as for any new manifest). The copy keeps the source's
content type and metadata under the request's own, unless ``X-Fresh-Metadata: true``.
The core's ``copies.py`` still serves copies that other middleware request below this.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.copies import split_copy_path
from stratus.objectstore.proxy.errors import PreconditionFailed, TooLarge
from stratus.objectstore.proxy.subrequest import relay, subrequest
from stratus.objectstore.proxy.swift_scope import RequestView
from stratus.objectstore.storage.server_request import STORED_HEADERS

SOURCE = "copy"
_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_NOT_FORWARDED = frozenset(
    {
        "x-copy-from",
        "destination",
        "x-fresh-metadata",
        "content-length",
        "transfer-encoding",
        "etag",
        "host",
    }
)
_LARGE = ("x-static-large-object", "x-object-manifest")


class ServerSideCopy:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = RequestView.of(scope)
        if view is None or view.obj is None or view.container is None:
            await self.app(scope, receive, send)
        elif view.method == "COPY":
            if "destination" not in view.headers:
                raise PreconditionFailed("Destination header required")
            target = split_copy_path(view.headers["destination"], "Destination")
            await self.copy(scope, send, view, (view.container, view.obj), target)
        elif view.method == "PUT" and "x-copy-from" in view.headers:
            if view.headers.get("content-length", "0").strip() not in ("", "0"):
                raise PreconditionFailed("A copy request must have no body")
            origin = split_copy_path(view.headers["x-copy-from"], "X-Copy-From")
            await self.copy(scope, send, view, origin, (view.container, view.obj))
        else:
            await self.app(scope, receive, send)

    async def copy(
        self,
        scope: Scope,
        send: Send,
        view: RequestView,
        origin: tuple[str, str],
        target: tuple[str, str],
    ) -> None:
        self.cluster.constraints.check_metadata(view.headers, "object")
        manifest = view.query.get("multipart-manifest") == "get"
        query = {"multipart-manifest": "get", "format": "raw"} if manifest else {}
        src_path = f"/v1/{view.account}/{origin[0]}/{origin[1]}"
        dst_path = f"/v1/{view.account}/{target[0]}/{target[1]}"
        async with await subrequest(
            self.app, scope, "GET", src_path, source=SOURCE, query=query
        ) as source:
            if not source.ok:
                await relay(source, send)
                return
            described = source.headers()
            if manifest:  # the manifest's own GET says JSON; its HEAD has the real type
                described = await self._described(scope, src_path)
            headers = self._target_headers(
                view, described, source.header("content-length"), manifest
            )
            slo = manifest and source.header("x-static-large-object") is not None
            put = await subrequest(
                self.app,
                scope,
                "PUT",
                dst_path,
                source=SOURCE,
                headers=headers,
                query={"multipart-manifest": "put"} if slo else None,
                body=source.chunks(),
            )
        copied = [(b"x-copied-from", quote(f"{origin[0]}/{origin[1]}").encode())]
        modified = source.header("last-modified") or ""
        copied += [(b"x-copied-from-last-modified", modified.encode())] if modified else []
        await relay(put, send, [*put.raw_headers, *copied])

    async def _described(self, scope: Scope, path: str) -> dict[str, str]:
        async with await subrequest(self.app, scope, "HEAD", path, source=SOURCE) as head:
            return {k: v for k, v in head.headers().items() if k not in ("etag", "content-length")}

    def _target_headers(
        self, view: RequestView, found: dict[str, str], size: str | None, manifest: bool
    ) -> dict[str, str]:
        """The source's type and metadata under the request's; its length, and its ETag
        when that is the MD5 of the bytes being copied (not a large object's)."""
        length = int(size or "0")
        if length > self.cluster.constraints.max_file_size:
            raise TooLarge
        kept: dict[str, str] = {}
        if view.headers.get("x-fresh-metadata", "").strip().lower() not in _TRUE:
            kept = {
                k: v
                for k, v in found.items()
                if k.startswith("x-object-meta-") or k in STORED_HEADERS
            }
        if not manifest:
            kept.pop("x-object-manifest", None)  # the assembled data, not the manifest
        given = {k: v for k, v in view.headers.items() if k not in _NOT_FORWARDED}
        headers = {**kept, **given, "content-length": str(length)}
        headers.setdefault("content-type", found.get("content-type", ""))
        if not any(h in found for h in _LARGE) and found.get("etag"):
            headers["etag"] = found["etag"].strip('"')
        return headers

"""``DELETE ?multipart-manifest=delete``: a static large object with all its segments.

The segments (and those of nested manifests) are deleted first, a few at a time, then
the manifests themselves, deepest first, and the outcome is reported as Swift's bulk
delete report. A manifest whose segments could not all be deleted is kept, so the
request can be repeated; an object that is not a manifest is simply deleted.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Scope, Send

from stratus.common.asgi.faults import title
from stratus.objectstore.middleware import bulk_report
from stratus.objectstore.middleware.large_objects import gather_bounded
from stratus.objectstore.middleware.slo_manifest import parse_stored
from stratus.objectstore.proxy.subrequest import relay, subrequest
from stratus.objectstore.proxy.swift_scope import RequestView

SOURCE = "slo"
CONCURRENCY = 4
MAX_DEPTH = 10
_MANIFEST_LIMIT = 16 * 1024 * 1024


async def delete(app: ASGIApp, scope: Scope, send: Send, view: RequestView) -> None:
    manifests: list[str] = []
    segments: list[str] = []
    async with await subrequest(app, scope, "GET", view.path, source=SOURCE) as sub:
        if not sub.ok or not _is_manifest(sub.header("x-static-large-object")):
            await sub.aclose()
            await relay(await subrequest(app, scope, "DELETE", view.path, source=SOURCE), send)
            return
    await _collect(
        app, scope, view.account, view.path, manifests=manifests, segments=segments, depth=1
    )
    outcome = await _delete_all(app, scope, segments)
    if not outcome.errors:
        manifest_outcome = await _delete_all(app, scope, manifests)
        outcome.merge(manifest_outcome)
    content_type = bulk_report.report_type(view.headers.get("accept"))
    body = bulk_report.render(content_type, outcome.counts(), outcome.errors, "delete")
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _is_manifest(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "on")


async def _collect(
    app: ASGIApp,
    scope: Scope,
    account: str,
    path: str,
    *,
    manifests: list[str],
    segments: list[str],
    depth: int,
) -> None:
    """Add ``path``'s segments to ``segments`` and itself (after its nested manifests)
    to ``manifests``."""
    async with await subrequest(app, scope, "GET", path, source=SOURCE) as sub:
        if not sub.ok or not _is_manifest(sub.header("x-static-large-object")):
            segments.append(path)
            return
        body = await sub.read(_MANIFEST_LIMIT)
    for entry in parse_stored(body):
        if entry.data is not None:
            continue
        container, obj = entry.container_and_object()
        segment_path = f"/v1/{account}/{container}/{obj}"
        if entry.sub_slo and depth < MAX_DEPTH:
            await _collect(
                app,
                scope,
                account,
                segment_path,
                manifests=manifests,
                segments=segments,
                depth=depth + 1,
            )
        else:
            segments.append(segment_path)
    manifests.append(path)


class Outcome:
    def __init__(self) -> None:
        self.deleted = 0
        self.not_found = 0
        self.errors: bulk_report.Errors = []

    def merge(self, other: Outcome) -> None:
        self.deleted += other.deleted
        self.not_found += other.not_found
        self.errors += other.errors

    def counts(self) -> dict[str, object]:
        status = "400 Bad Request" if self.errors else "200 OK"
        return {
            "Number Deleted": self.deleted,
            "Number Not Found": self.not_found,
            "Response Body": "",
            "Response Status": status,
        }


async def _delete_all(app: ASGIApp, scope: Scope, paths: list[str]) -> Outcome:
    async def one(path: str) -> int:
        async with await subrequest(app, scope, "DELETE", path, source=SOURCE) as sub:
            return sub.status

    outcome = Outcome()
    statuses = await gather_bounded((one(p) for p in dict.fromkeys(paths)), CONCURRENCY)
    for path, status in zip(dict.fromkeys(paths), statuses, strict=True):
        if 200 <= status < 300:
            outcome.deleted += 1
        elif status == 404:
            outcome.not_found += 1
        else:
            shown = path.split("/", 3)[3] if path.count("/") >= 3 else path
            outcome.errors.append((f"/{shown}", f"{status} {title(status)}"))
    return outcome

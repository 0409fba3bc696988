"""Object versioning, Swift's ``versioned_writes``: a container keeps its objects' older
versions in another container of the same account.

A client sets ``X-Versions-Location: <container>`` (stack mode) or ``X-History-Location:
<container>`` (history mode) on a container; the middleware records the location and
mode as container sysmeta, so they cannot be forged by writing raw metadata, and shows
them back to the owner under the client header. In a versioned container:

- a PUT (or COPY onto an object) first copies the current object, if any, to
  ``<location>/<3 hex digits: length of name><name>/<its timestamp>``;
- a DELETE in stack mode puts the newest archived version back in place (and removes it
  from the archive), so an object disappears only once every version is deleted;
- a DELETE in history mode archives the current object, writes a zero-byte delete marker
  to the archive, then deletes the object.

Archiving uses ordinary subrequests as the caller (``version_archive.py``): the archive
container must exist and be writable by them, else the write fails with 412 before
anything changes.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.objectstore.middleware.resource_info import head_headers, with_info
from stratus.objectstore.middleware.version_archive import SOURCE, Archive, Versioning
from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import PreconditionFailed, bad_request
from stratus.objectstore.proxy.subrequest import RawHeaders, capture, relay
from stratus.objectstore.proxy.swift_scope import RequestView

VERSIONS = "x-versions-location"
HISTORY = "x-history-location"
REMOVALS = ("x-remove-versions-location", "x-remove-history-location")
SYSMETA_LOCATION = "x-container-sysmeta-versions-location"
SYSMETA_MODE = "x-container-sysmeta-versions-mode"
_CLIENT = (VERSIONS, HISTORY, *REMOVALS)


class VersionedWrites:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster
        cluster.capabilities["versioned_writes"] = {"allowed_flags": [VERSIONS, HISTORY]}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = RequestView.of(scope)
        if view is None or view.container is None or swift_scope.source_of(scope) == SOURCE:
            await self.app(scope, receive, send)
        elif view.obj is None:
            await self._container(view, scope, receive, send)
        elif view.method in ("PUT", "COPY", "DELETE"):
            await self._object(view, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _container(
        self, view: RequestView, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Client headers in, sysmeta to the container; sysmeta back out as client headers."""
        if view.method in ("PUT", "POST"):
            changes = self._settings(view.headers)
            if changes is not None:
                scope = replace_headers(scope, _CLIENT, changes)
        response = await capture(self.app, scope, receive)
        await relay(response, send, headers=expose(response.raw_headers))

    def _settings(self, headers: dict[str, str]) -> dict[str, str] | None:
        """The headers that record what the request asks, or ``None`` if it asks nothing."""
        versions, history = (_stripped(headers.get(h)) for h in (VERSIONS, HISTORY))
        if versions and history:
            raise bad_request(f"Only one of {VERSIONS} or {HISTORY} may be specified")
        location, mode = (versions, "stack") if versions else (history, "history")
        if location:
            name = self._location(location)
            return {SYSMETA_LOCATION: name, SYSMETA_MODE: mode, VERSIONS: ""}
        asked_removal = any(headers.get(h) for h in REMOVALS)
        if asked_removal or versions == "" or history == "":
            return {SYSMETA_LOCATION: "", SYSMETA_MODE: "", VERSIONS: ""}
        return None

    def _location(self, value: str) -> str:
        try:
            name = unquote(value.strip(), errors="strict")
        except UnicodeDecodeError:
            raise bad_request("Invalid UTF-8 in the versions location") from None
        if "/" in name:
            raise PreconditionFailed("Container name cannot contain slashes")
        self.cluster.constraints.check_names("a", name, None)
        return name

    async def _object(self, view: RequestView, scope: Scope, receive: Receive, send: Send) -> None:
        target = _target(view)
        if target is None:
            await self.app(scope, receive, send)
            return
        container, obj = target
        path = f"/v1/{view.account}/{container}"
        info = await head_headers(self.app, scope, path, source=SOURCE)
        versioning = versioning_of(info)
        if versioning is None:
            await self.app(with_info(scope, path, info), receive, send)
            return
        archive = Archive(self.app, scope, self.cluster, view.account, versioning)
        if view.method != "DELETE":
            await archive.save_current(container, obj)
        elif versioning.mode == "history":
            await archive.save_current(container, obj)
            await archive.mark_deleted(obj)
        else:
            popped = await archive.pop(container, obj)
            if popped is not None:
                await relay(popped, send)
                return
        await self.app(scope, receive, send)


def _stripped(value: str | None) -> str | None:
    return None if value is None else value.strip()


def _target(view: RequestView) -> tuple[str, str] | None:
    """The object a write replaces: the request's, or a COPY's destination."""
    assert view.container is not None and view.obj is not None
    if view.method != "COPY":
        return view.container, view.obj
    container, _, obj = unquote(view.headers.get("destination", "")).lstrip("/").partition("/")
    return (container, obj) if container and obj else None  # the core answers 412


def versioning_of(headers: dict[str, str]) -> Versioning | None:
    """The container's versioning, from its sysmeta (or a location stored raw by a
    proxy without this middleware, which Swift reads as stack mode)."""
    location = headers.get(SYSMETA_LOCATION) or headers.get(VERSIONS)
    if not location:
        return None
    if headers.get(SYSMETA_MODE) == "history":
        return Versioning(location, "history")
    return Versioning(location, "stack")


def expose(raw: RawHeaders) -> RawHeaders:
    """The response's headers with the sysmeta location shown as the client header."""
    found = {k.lower(): v for k, v in raw}
    location = found.get(SYSMETA_LOCATION.encode())
    if not location:
        return raw
    mode = found.get(SYSMETA_MODE.encode(), b"stack")
    client = HISTORY if mode == b"history" else VERSIONS
    kept = [(k, v) for k, v in raw if k.lower() != VERSIONS.encode()]
    return [*kept, (client.encode(), location)]


def replace_headers(scope: Scope, drop: tuple[str, ...], add: dict[str, str]) -> Scope:
    names = {n.encode() for n in (*drop, *add)}
    kept = [(k, v) for k, v in scope["headers"] if k.lower() not in names]
    added = [(k.encode(), v.encode()) for k, v in add.items()]
    return {**scope, "headers": [*kept, *added]}

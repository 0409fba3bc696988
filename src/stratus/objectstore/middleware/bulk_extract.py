"""``PUT ?extract-archive=tar|tar.gz|tar.bz2``: a tar archive unpacked into objects.

The request's path says where: at the account, each file's first directory is its
container; at a container (and optional prefix), files land inside it. Containers are
created as needed (at most ``MAX_CONTAINERS`` per request). Each file is streamed from
the archive into a PUT subrequest as the caller (``tar_stream.py``), so the archive is
never held whole and every object is authorised and stored like any other. Directories,
links and the like are skipped; failures are counted in the bulk report, and after
``MAX_FAILURES`` the extraction stops.
"""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope

from stratus.common.asgi.faults import title
from stratus.objectstore.middleware import bulk_report
from stratus.objectstore.middleware.tar_stream import COMPRESSIONS, Entry, TarReader
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import bad_request
from stratus.objectstore.proxy.subrequest import subrequest
from stratus.objectstore.proxy.swift_scope import RequestView

SOURCE = "bulk"
MAX_CONTAINERS = 10_000
MAX_FAILURES = 1_000


class Extraction:
    def __init__(self, app: ASGIApp, cluster: Cluster, scope: Scope, view: RequestView) -> None:
        compression = view.query.get("extract-archive", "")
        if compression not in COMPRESSIONS:
            raise bad_request(f"Unsupported archive format {compression!r}")
        self.app = app
        self.cluster = cluster
        self.scope = scope
        self.view = view
        self.compression = compression
        self.created = 0
        self.errors: bulk_report.Errors = []
        self.containers: set[str] = set()

    async def run(self, receive: Receive) -> tuple[dict[str, object], bulk_report.Errors]:
        reader = TarReader(self.compression, _body_chunks(receive))
        try:
            async with contextlib.aclosing(reader.entries()) as entries:
                async for entry in entries:
                    if entry.kind == "file":
                        await self._file(entry, reader)
                    if len(self.errors) >= MAX_FAILURES:
                        break
        except (tarfile.TarError, EOFError, OSError):
            self.errors.append(("/", "400 Bad Request: Invalid Tar File"))
        return {"Number Files Created": self.created}, self.errors

    def _target(self, name: str) -> tuple[str, str] | None:
        """``(container, object)`` for an archive member, or ``None`` if it has none."""
        name = name.removeprefix("./").lstrip("/")
        if self.view.container is not None:
            prefix = self.view.obj.rstrip("/") + "/" if self.view.obj else ""
            return (self.view.container, prefix + name) if name else None
        container, _, obj = name.partition("/")
        return (container, obj) if container and obj else None

    async def _file(self, entry: Entry, reader: TarReader) -> None:
        target = self._target(entry.name)
        if target is None:
            return
        container, obj = target
        shown = f"/{container}/{obj}"
        if len(obj.encode()) > self.cluster.constraints.max_object_name_length:
            self.errors.append((shown, "400 Bad Request: object name too long"))
            return
        status = await self._ensure_container(container)
        if status is None:
            path = f"/v1/{self.view.account}/{container}/{obj}"
            headers = {"content-length": str(entry.size)}
            async with await subrequest(
                self.app,
                self.scope,
                "PUT",
                path,
                source=SOURCE,
                headers=headers,
                body=reader.data(),
            ) as sub:
                status = sub.status
        if 200 <= status < 300:
            self.created += 1
        else:
            self.errors.append((shown, f"{status} {title(status)}"))

    async def _ensure_container(self, container: str) -> int | None:
        """``None`` once ``container`` exists (created if need be), else the status."""
        if container in self.containers:
            return None
        if len(self.containers) >= MAX_CONTAINERS:
            return 400
        path = f"/v1/{self.view.account}/{container}"
        async with await subrequest(self.app, self.scope, "HEAD", path, source=SOURCE) as head:
            exists = head.ok
        if not exists:
            async with await subrequest(self.app, self.scope, "PUT", path, source=SOURCE) as sub:
                if not sub.ok:
                    return sub.status
        self.containers.add(container)
        return None


def _body_chunks(receive: Receive) -> Callable[[], Awaitable[bytes]]:
    """The request body's next non-empty piece; ``b""`` at its end (or a disconnect,
    which leaves the archive truncated: a tar error). Nothing is received after the
    last piece: ``receive`` would wait for the client to hang up."""
    finished = False

    async def next_chunk() -> bytes:
        nonlocal finished
        while not finished:
            message = await receive()
            if message["type"] == "http.disconnect":
                finished = True
                return b""
            finished = not message.get("more_body", False)
            body: bytes = message.get("body", b"")
            if body:
                return body
        return b""

    return next_chunk

"""The archive container of a versioned container: saving, marking and restoring versions.

Every step is a subrequest below the versioning middleware, as the client's caller and
marked with ``SOURCE`` so that the middleware leaves its own writes alone. Copies stream:
the GET of one version is the body of the PUT of the other. A version is named
``<3 hex digits: UTF-8 length of the object name><name>/<timestamp>``, so one object's
versions list together and in time order.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Scope

from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import PreconditionFailed, QuorumLost, TooLarge
from stratus.objectstore.proxy.subrequest import SubResponse, subrequest
from stratus.objectstore.storage.timestamp import Timestamp

SOURCE = "versioned_writes"
DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"
PAGE = 100  # versions listed per request while looking for the newest
_NOT_COPIED = frozenset({"x-timestamp", "last-modified", "accept-ranges", "content-range"})


@dataclass(frozen=True, slots=True)
class Versioning:
    location: str  # the archive container, in the same account
    mode: Literal["stack", "history"]


def version_prefix(obj: str) -> str:
    return f"{len(obj.encode()):03x}{obj}/"


def checked(response: SubResponse) -> None:
    """A failed archive step: 412 for the client's kind of error (no archive container,
    no write access there), 503 for the cluster's."""
    if response.ok:
        return
    if 400 <= response.status < 500:
        raise PreconditionFailed
    raise QuorumLost("Could not version the object")


class Archive:
    def __init__(
        self, app: ASGIApp, scope: Scope, cluster: Cluster, account: str, versioning: Versioning
    ) -> None:
        self.app = app
        self.scope = scope
        self.cluster = cluster
        self.account = account
        self.location = versioning.location

    def _path(self, container: str, obj: str) -> str:
        return f"/v1/{self.account}/{container}/{obj}"

    async def save_current(self, container: str, obj: str) -> None:
        """Copy the object as it is now into the archive, if it exists."""
        async with await self._sub("GET", self._path(container, obj)) as current:
            if current.status == 404:
                return
            checked(current)
            stamp = Timestamp.parse(current.header("x-timestamp") or "0").internal
            archived = self._path(self.location, version_prefix(obj) + stamp)
            await self._copy(current, archived)

    async def mark_deleted(self, obj: str) -> None:
        """History mode: a zero-byte delete marker, named for the time of the delete."""
        name = version_prefix(obj) + Timestamp.now().internal
        headers = {"content-type": DELETE_MARKER, "content-length": "0"}
        async with await self._sub("PUT", self._path(self.location, name), headers) as put:
            checked(put)

    async def pop(self, container: str, obj: str) -> SubResponse | None:
        """Stack mode DELETE: the DELETE of the archived version just put back in place
        (its response is the client's), or ``None`` to delete the object itself."""
        async with contextlib.aclosing(self._newest_first(version_prefix(obj))) as versions:
            return await self._pop_from(versions, container, obj)

    async def _pop_from(
        self, versions: AsyncIterator[tuple[str, str]], container: str, obj: str
    ) -> SubResponse | None:
        async for name, content_type in versions:
            if content_type == DELETE_MARKER:
                if await self._exists(self._path(container, obj)):
                    return None  # data written after the marker: delete just that
                async for older, older_type in versions:
                    if older_type == DELETE_MARKER:
                        break
                    if await self._restore(older, container, obj):
                        await self._delete_archived(older)
                        break
                return await self._sub("DELETE", self._path(self.location, name))
            if await self._restore(name, container, obj):
                return await self._sub("DELETE", self._path(self.location, name))
        return None

    async def _restore(self, name: str, container: str, obj: str) -> bool:
        """Copy an archived version over the object; False if it vanished meanwhile."""
        async with await self._sub("GET", self._path(self.location, name)) as version:
            if version.status == 404:
                return False
            checked(version)
            await self._copy(version, self._path(container, obj))
        return True

    async def _delete_archived(self, name: str) -> None:
        async with await self._sub("DELETE", self._path(self.location, name)) as gone:
            if gone.status != 404:
                checked(gone)

    async def _exists(self, path: str) -> bool:
        async with await self._sub("HEAD", path) as head:
            if head.status == 404:
                return False
            checked(head)
            return True

    async def _copy(self, source: SubResponse, target: str) -> None:
        """PUT ``source`` (a GET being received) at ``target`` with its headers."""
        length = source.header("content-length")
        if length is None or int(length) > self.cluster.constraints.max_file_size:
            raise TooLarge
        headers = {k: v for k, v in source.headers().items() if k not in _NOT_COPIED}
        async with await self._sub("PUT", target, headers, body=source.chunks()) as put:
            checked(put)

    async def _newest_first(self, prefix: str) -> AsyncGenerator[tuple[str, str]]:
        """The archive's versions of one object, newest first, page by page."""
        marker = ""
        while True:
            query = {"format": "json", "prefix": prefix, "reverse": "on", "limit": str(PAGE)}
            if marker:
                query["marker"] = marker
            listing = f"/v1/{self.account}/{self.location}"
            async with await self._sub("GET", listing, query=query) as page:
                if page.status == 404:
                    return
                checked(page)
                entries = json.loads(await page.read(limit=16 << 20) or b"[]")
            if not entries:
                return
            for entry in entries:
                yield str(entry["name"]), str(entry.get("content_type", ""))
            marker = str(entries[-1]["name"])

    async def _sub(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        query: dict[str, str] | None = None,
        body: AsyncIterator[bytes] | None = None,
    ) -> SubResponse:
        return await subrequest(
            self.app,
            self.scope,
            method,
            path,
            source=SOURCE,
            headers=headers,
            query=query,
            body=body,
        )

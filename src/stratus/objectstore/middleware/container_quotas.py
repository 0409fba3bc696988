"""Container quotas, Swift's ``container_quotas``: ``X-Container-Meta-Quota-Bytes`` and
``X-Container-Meta-Quota-Count`` cap what a container may hold.

Anyone who may set the container's metadata may set its quotas (a self-imposed limit,
or one for uploads delegated through FormPOST or TempURL); values must be whole numbers.
An object write that would take the container past either is refused with 413 "Upload
exceeds quota." before any byte is stored: its size is known up front, except for a
chunked upload, which is stopped at the first chunk past the room left. Copies count
as writes of their source's size.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.objectstore.middleware.resource_info import (
    head_headers,
    int_header,
    is_number,
    with_info,
)
from stratus.objectstore.middleware.upload_room import OVER_QUOTA, bounded, over, upload_of
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import TooLarge, bad_request
from stratus.objectstore.proxy.info import container_info
from stratus.objectstore.proxy.swift_scope import RequestView

SOURCE = "container_quotas"
QUOTA_BYTES = "x-container-meta-quota-bytes"
QUOTA_COUNT = "x-container-meta-quota-count"


class ContainerQuotas:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster
        cluster.capabilities["container_quotas"] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = RequestView.of(scope)
        if view is not None and view.container is not None:
            if view.obj is None and view.method in ("PUT", "POST"):
                _check_settings(view.headers)
            elif view.obj is not None and view.method in ("PUT", "COPY"):
                scope, receive = await self._check_upload(view, scope, receive)
        await self.app(scope, receive, send)

    async def _check_upload(
        self, view: RequestView, scope: Scope, receive: Receive
    ) -> tuple[Scope, Receive]:
        """The request checked against the container's quotas; the container's headers
        go down with it (versioning and the core need not ask again)."""
        if view.method == "PUT" and view.container is not None:
            # No quota set (per the proxy's info cache, see account_quotas.py): no fresh
            # HEAD; the cached headers go down for versioning and the core.
            cached = await container_info(self.cluster, view.account, view.container)
            if cached.exists and not (cached.get(QUOTA_BYTES) or cached.get(QUOTA_COUNT)):
                path = f"/v1/{view.account}/{view.container}"
                return with_info(scope, path, dict(cached.headers)), receive
        upload = await upload_of(self.app, scope, view, SOURCE)
        if upload is None:
            return scope, receive
        path = f"/v1/{view.account}/{upload.container}"
        container = await head_headers(self.app, scope, path, source=SOURCE)
        if not container:
            return scope, receive  # the core answers 404
        scope = with_info(scope, path, container)
        count = int_header(container, "x-container-object-count")
        if over(count, int_header(container, QUOTA_COUNT), 1):
            raise TooLarge(OVER_QUOTA)
        used = int_header(container, "x-container-bytes-used")
        quota = int_header(container, QUOTA_BYTES)
        if over(used, quota, upload.length or 0):
            raise TooLarge(OVER_QUOTA)
        if upload.length is None and quota is not None and used is not None:
            return scope, bounded(receive, quota - used)
        return scope, receive


def _check_settings(headers: dict[str, str]) -> None:
    for name, what in ((QUOTA_BYTES, "bytes"), (QUOTA_COUNT, "count")):
        value = headers.get(name, "").strip()
        if value and not is_number(value):
            raise bad_request(f"Invalid {what} quota.")

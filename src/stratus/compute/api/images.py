"""The image service as the compute API sees it: Glance v2 over HTTP, with the caller's
token, so a server can only boot from (and snapshot to) what its caller may see."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from stratus.common.context import RequestContext
from stratus.common.errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageInfo:
    id: str
    name: str
    status: str
    min_ram: int
    min_disk: int
    size: int
    disk_format: str
    container_format: str
    properties: dict[str, str] = field(default_factory=dict)


_CORE = {
    "id",
    "name",
    "status",
    "min_ram",
    "min_disk",
    "size",
    "disk_format",
    "container_format",
    "visibility",
    "owner",
    "protected",
    "checksum",
    "tags",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "virtual_size",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "locations",
    "direct_url",
    "stores",
}


def _info(body: dict[str, Any]) -> ImageInfo:
    props = {k: str(v) for k, v in body.items() if k not in _CORE and v is not None}
    return ImageInfo(
        id=str(body["id"]),
        name=str(body.get("name") or ""),
        status=str(body.get("status")),
        min_ram=int(body.get("min_ram") or 0),
        min_disk=int(body.get("min_disk") or 0),
        size=int(body.get("size") or 0),
        disk_format=str(body.get("disk_format") or ""),
        container_format=str(body.get("container_format") or ""),
        properties=props,
    )


# How long an active image, as one caller saw it, is reused without asking again: a burst
# of boots from one image costs one Glance lookup per project and role set, and a change of
# visibility, a deactivation or a delete takes effect within this time.
RECENT_SECONDS = 2.0
RECENT_MAX = 1024

_ViewKey = tuple[str | None, tuple[str, ...], str]


class ImageClient:
    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30.0)
        self._recent: OrderedDict[_ViewKey, tuple[float, ImageInfo]] = OrderedDict()

    def url_of(self, image_id: str) -> str:
        return f"{str(self._http.base_url).rstrip('/')}/v2/images/{image_id}"

    async def close(self) -> None:
        await self._http.aclose()

    def _headers(self, ctx: RequestContext) -> dict[str, str]:
        return {"X-Auth-Token": ctx.auth_token or "", "X-Openstack-Request-Id": ctx.request_id}

    async def get(self, ctx: RequestContext, image_id: str) -> ImageInfo | None:
        """The image if the caller may see it, else ``None``."""
        key = (ctx.project_id, tuple(sorted(ctx.roles)), image_id)
        seen = self._recent.get(key)
        if seen is not None and seen[0] > time.monotonic():
            return seen[1]
        info = await self._fetch(ctx, image_id)
        if info is not None and info.status == "active":
            self._remember(key, info)
        return info

    def _remember(self, key: _ViewKey, info: ImageInfo) -> None:
        self._recent[key] = (time.monotonic() + RECENT_SECONDS, info)
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_MAX:
            self._recent.popitem(last=False)

    async def _fetch(self, ctx: RequestContext, image_id: str) -> ImageInfo | None:
        try:
            r = await self._http.get(f"/v2/images/{image_id}", headers=self._headers(ctx))
        except httpx.HTTPError as exc:
            raise Unavailable("compute.image.unavailable", f"Image service: {exc}") from None
        if r.status_code in (400, 403, 404):
            return None
        if r.status_code != 200:
            raise Unavailable(
                "compute.image.unavailable", f"Image service answered {r.status_code}"
            )
        return _info(r.json())

    async def create_snapshot(self, ctx: RequestContext, body: Mapping[str, object]) -> str:
        """Create the queued image record a snapshot will fill; its id."""
        try:
            r = await self._http.post("/v2/images", json=dict(body), headers=self._headers(ctx))
        except httpx.HTTPError as exc:
            raise Unavailable("compute.image.unavailable", f"Image service: {exc}") from None
        if r.status_code != 201:
            message = r.json().get("message", r.text) if r.content else str(r.status_code)
            raise InvalidInput("compute.image.create", f"Cannot create the image: {message}")
        return str(r.json()["id"])

    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Remove an image this request created and could not use (best effort: a
        failure is logged, the request's own error matters more)."""
        try:
            r = await self._http.delete(f"/v2/images/{image_id}", headers=self._headers(ctx))
        except httpx.HTTPError as exc:
            log.warning("cannot delete image %s: %s", image_id, exc)
            return
        if r.status_code not in (204, 404):
            log.warning("cannot delete image %s: the image service answered %d", image_id,
                        r.status_code)  # fmt: skip

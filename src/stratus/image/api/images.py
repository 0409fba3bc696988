"""``/v2/images``: create, list, show, update (JSON patch), delete, (de)activate.

Deleting removes the record at once and then the data from every store holding it; a
protected image cannot be deleted. Deactivation (admin) keeps the data but refuses its
download to everyone but admins, as Glance does for an image under investigation.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.db.types import utcnow
from stratus.common.errors import Conflict, Forbidden, TooLarge, UnsupportedMedia
from stratus.image import access, attributes, listing
from stratus.image import models as m
from stratus.image.api.common import READ, WRITE, set_tags, tags_of
from stratus.image.patch import MEDIA_TYPES, apply_patch
from stratus.image.state import state_of
from stratus.image.views import image_view

log = logging.getLogger(__name__)
routes = Routes("image")


@routes.route("POST", "/v2/images", rule=WRITE)
async def add_image(req: ApiRequest) -> Response:
    body = await req.json()
    if not isinstance(body, dict):
        raise attributes.invalid("The request body must be a JSON object")
    ctx, st = req.ctx, state_of(req)
    image_id = attributes.check_id(body.pop("id")) if "id" in body else m.new_image_id()
    defaults: dict[str, Any] = {
        "name": None, "visibility": "shared", "protected": False, "os_hidden": False,
        "tags": [], "disk_format": None, "container_format": None, "min_disk": 0,
        "min_ram": 0, "owner": ctx.project_id,
    }  # fmt: skip
    after = {**defaults, **attributes.validate(body)}
    async with st.db.session() as s:
        if await s.get(m.Image, image_id) is not None:
            raise Conflict("image.exists", f"Image with identifier {image_id} already exists!")
        await _check_count_quota(s, st.settings.quota_images, after["owner"])
        image = m.Image(id=image_id, status="queued", locations=[])
        before = {**defaults, "visibility": None, "owner": ctx.project_id}
        attributes.apply(image, before, after, ctx)
        image.created_at = image.updated_at = utcnow()
        s.add(image)
        await s.flush()
        await set_tags(s, image.id, after["tags"])
    view = image_view(image, after["tags"])
    return json_response(view, status=201, headers={"Location": f"/v2/images/{image.id}"})


async def _check_count_quota(session: Any, limit: int, owner: str | None) -> None:
    if limit < 0 or owner is None:
        return
    count = await session.scalar(sa.select(sa.func.count()).where(m.Image.owner == owner))
    if count >= limit:
        raise TooLarge("image.quota.count", f"Maximum number of images ({limit}) exceeded")


@routes.route("GET", "/v2/images", rule=READ)
async def list_images(req: ApiRequest) -> Response:
    query = listing.ListQuery.parse(req.query)
    async with state_of(req).db.session() as s:
        images = await listing.run(s, req.ctx, query)
        tags = await tags_of(s, [i.id for i in images])
    body: dict[str, Any] = {
        "images": [image_view(i, tags[i.id]) for i in images],
        "schema": "/v2/schemas/images",
        "first": "/v2/images",
    }
    if len(images) == query.limit:
        body["next"] = listing.next_link(req.query, images[-1].id)
    return json_response(body)


@routes.route("GET", "/v2/images/{image_id}", rule=READ)
async def get_image(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        image = await access.load_visible(s, req.ctx, req.params["image_id"])
        tags = await tags_of(s, [image.id])
    return json_response(image_view(image, tags[image.id]))


@routes.route("PATCH", "/v2/images/{image_id}", rule=WRITE)
async def update_image(req: ApiRequest) -> Response:
    media = (req.header("content-type") or "").split(";")[0].strip()
    if media not in MEDIA_TYPES:
        raise UnsupportedMedia(
            "image.patch.media", f"Unsupported Content-Type {media!r}; use {MEDIA_TYPES[0]}"
        )
    body = await req.json()
    async with state_of(req).db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        tags = (await tags_of(s, [image.id]))[image.id]
        before = attributes.document(image, tags)
        after = attributes.validate(apply_patch(before, body))
        new_tags = attributes.apply(image, before, after, req.ctx)
        if new_tags is not None:
            await set_tags(s, image.id, new_tags)
            tags = new_tags
        image.updated_at = utcnow()
    return json_response(image_view(image, tags))


@routes.route("DELETE", "/v2/images/{image_id}", rule=WRITE)
async def delete_image(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        if image.protected:
            raise Forbidden(
                "image.protected", f"Image {image.id} is protected and cannot be deleted."
            )
        locations = list(image.locations or [])
        await s.delete(image)
    for loc in locations:
        try:
            await st.store(loc["store"]).delete(loc["key"])
        except Exception:
            log.exception("image %s: data in store %s left behind", image.id, loc["store"])
    return Response(status_code=204)


@routes.route("POST", "/v2/images/{image_id}/actions/deactivate", rule=ADMIN)
async def deactivate(req: ApiRequest) -> Response:
    return await _set_active(req, active=False)


@routes.route("POST", "/v2/images/{image_id}/actions/reactivate", rule=ADMIN)
async def reactivate(req: ApiRequest) -> Response:
    return await _set_active(req, active=True)


async def _set_active(req: ApiRequest, *, active: bool) -> Response:
    async with state_of(req).db.session() as s:
        image = await access.load_visible(s, req.ctx, req.params["image_id"])
        allowed = ("active", "deactivated")
        if image.status not in allowed:
            raise Forbidden(
                "image.status",
                f"Cannot {'re' if active else 'de'}activate an image in status {image.status}",
            )
        image.status = "active" if active else "deactivated"
        image.updated_at = utcnow()
    return Response(status_code=204)

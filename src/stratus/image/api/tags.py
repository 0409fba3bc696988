"""``/v2/images/{id}/tags/{tag}``: add and remove one tag."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes
from stratus.common.db.types import utcnow
from stratus.common.errors import NotFound, TooLarge
from stratus.image import access, attributes
from stratus.image import models as m
from stratus.image.api.common import WRITE
from stratus.image.state import state_of

routes = Routes("image")


@routes.route("PUT", "/v2/images/{image_id}/tags/{tag}", rule=WRITE)
async def add_image_tag(req: ApiRequest) -> Response:
    tag = req.params["tag"]
    attributes.validate({"tags": [tag]})
    async with state_of(req).db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        count = await s.scalar(sa.select(sa.func.count()).where(m.ImageTag.image_id == image.id))
        if await s.get(m.ImageTag, (image.id, tag)) is None:
            if (count or 0) >= attributes.MAX_TAGS:
                raise TooLarge("image.tags.quota", f"Maximum of {attributes.MAX_TAGS} tags")
            s.add(m.ImageTag(image_id=image.id, value=tag))
        image.updated_at = utcnow()
    return Response(status_code=204)


@routes.route("DELETE", "/v2/images/{image_id}/tags/{tag}", rule=WRITE)
async def delete_image_tag(req: ApiRequest) -> Response:
    tag = req.params["tag"]
    async with state_of(req).db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        row = await s.get(m.ImageTag, (image.id, tag))
        if row is None:
            raise NotFound("image.tag.not_found", f"Tag {tag} not found on image {image.id}")
        await s.delete(row)
        image.updated_at = utcnow()
    return Response(status_code=204)

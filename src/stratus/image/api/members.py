"""``/v2/images/{id}/members``: sharing an image with other projects.

The owner adds and removes members of a ``shared`` image; each member project accepts
or rejects (or resets to pending) its own membership, and nobody else may. The owner
sees every member; a member sees only itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.db.types import utcnow
from stratus.common.errors import Conflict, Forbidden, NotFound, TooLarge
from stratus.image import access, attributes
from stratus.image import models as m
from stratus.image.api.common import READ, WRITE
from stratus.image.state import state_of
from stratus.image.views import member_view

routes = Routes("image")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
MAX_MEMBERS = 128


def _member_not_found(image_id: str, member: str) -> NotFound:
    return NotFound("image.member.not_found", f"{member} is not a member of image {image_id}")


@routes.route("POST", "/v2/images/{image_id}/members", rule=WRITE)
async def create_member(req: ApiRequest) -> Response:
    body = await req.json()
    member = body.get("member") if isinstance(body, dict) else None
    if not isinstance(member, str) or not member or len(member) > 255:
        raise attributes.invalid('Body must be {"member": "<project id>"}')
    async with state_of(req).db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        if image.visibility != "shared":
            raise Forbidden(
                "image.member.visibility",
                f"Only shared images have members; image {image.id} is {image.visibility}.",
            )
        if await s.get(m.ImageMember, (image.id, member)) is not None:
            raise Conflict("image.member.exists", f"{member} is already a member of {image.id}")
        count = await s.scalar(sa.select(sa.func.count()).where(m.ImageMember.image_id == image.id))
        if (count or 0) >= MAX_MEMBERS:
            raise TooLarge("image.member.quota", f"Maximum of {MAX_MEMBERS} members")
        row = m.ImageMember(image_id=image.id, member=member, status="pending")
        row.created_at = row.updated_at = utcnow()
        s.add(row)
    return json_response(member_view(row))


@routes.route("GET", "/v2/images/{image_id}/members", rule=READ)
async def list_members(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        image = await access.load_visible(s, req.ctx, req.params["image_id"])
        if image.visibility != "shared":
            raise Forbidden("image.member.visibility", "Only shared images have members.")
        query = sa.select(m.ImageMember).where(m.ImageMember.image_id == image.id)
        if not access.owns(req.ctx, image):
            query = query.where(m.ImageMember.member == req.ctx.project_id)
        rows = (await s.execute(query.order_by(m.ImageMember.created_at))).scalars().all()
    return json_response(
        {"members": [member_view(r) for r in rows], "schema": "/v2/schemas/members"}
    )


@routes.route("GET", "/v2/images/{image_id}/members/{member_id}", rule=READ)
async def get_member(req: ApiRequest) -> Response:
    member = req.params["member_id"]
    async with state_of(req).db.session() as s:
        image = await access.load_visible(s, req.ctx, req.params["image_id"])
        row = await s.get(m.ImageMember, (image.id, member))
        if row is None or not (access.owns(req.ctx, image) or member == req.ctx.project_id):
            raise _member_not_found(image.id, member)
    return json_response(member_view(row))


@routes.route("PUT", "/v2/images/{image_id}/members/{member_id}", rule=WRITE)
async def update_member(req: ApiRequest) -> Response:
    member = req.params["member_id"]
    body = await req.json()
    status = body.get("status") if isinstance(body, dict) else None
    if status not in MEMBER_STATUSES:
        raise attributes.invalid(f"Invalid status {status!r}: one of {', '.join(MEMBER_STATUSES)}")
    async with state_of(req).db.session() as s:
        image = await access.load_visible(s, req.ctx, req.params["image_id"])
        row = await s.get(m.ImageMember, (image.id, member))
        if row is None:
            raise _member_not_found(image.id, member)
        if member != req.ctx.project_id:
            raise Forbidden("image.member.status", "Only the member project may change its status.")
        row.status = status
        row.updated_at = utcnow()
    return json_response(member_view(row))


@routes.route("DELETE", "/v2/images/{image_id}/members/{member_id}", rule=WRITE)
async def delete_member(req: ApiRequest) -> Response:
    member = req.params["member_id"]
    async with state_of(req).db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        row = await s.get(m.ImageMember, (image.id, member))
        if row is None:
            raise _member_not_found(image.id, member)
        await s.delete(row)
    return Response(status_code=204)

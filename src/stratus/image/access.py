"""Who may see and change an image: Glance's visibility rules in one place.

- ``public``: everyone sees it; only admins may make an image public.
- ``community``: everyone may see it by id and list it with ``visibility=community``;
  it is not in other projects' default listing.
- ``shared``: the owner and member projects (a member sees it by id whatever its member
  status, and in its default listing once it has accepted).
- ``private``: the owner only.
Admins see and change everything. Only the owner (or an admin) changes an image.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden, NotFound
from stratus.image import models as m

VISIBILITIES = ("public", "private", "shared", "community")


def not_found(image_id: str) -> NotFound:
    return NotFound("image.not_found", f"No image found with ID {image_id}")


def forbidden(message: str) -> Forbidden:
    return Forbidden("image.forbidden", message)


def owns(ctx: RequestContext, image: m.Image) -> bool:
    return ctx.is_admin or (ctx.project_id is not None and image.owner == ctx.project_id)


async def member_of(
    session: AsyncSession, image_id: str, project_id: str | None
) -> m.ImageMember | None:
    if project_id is None:
        return None
    return await session.get(m.ImageMember, (image_id, project_id))


async def visible(session: AsyncSession, ctx: RequestContext, image: m.Image) -> bool:
    if owns(ctx, image) or image.visibility in ("public", "community"):
        return True
    if image.visibility == "shared":
        return await member_of(session, image.id, ctx.project_id) is not None
    return False


async def load_visible(session: AsyncSession, ctx: RequestContext, image_id: str) -> m.Image:
    """The image if the caller may see it; 404 otherwise (never a hint that it exists)."""
    image = await session.get(m.Image, image_id)
    if image is None or not await visible(session, ctx, image):
        raise not_found(image_id)
    return image


async def load_owned(session: AsyncSession, ctx: RequestContext, image_id: str) -> m.Image:
    """The image if the caller may change it: 404 if invisible, 403 if only visible."""
    image = await load_visible(session, ctx, image_id)
    if not owns(ctx, image):
        raise forbidden("You are not permitted to modify this image.")
    return image


def listing_filter(ctx: RequestContext, visibility: str | None) -> sa.ColumnElement[bool]:
    """The images a project's listing may show, before the user's own filters."""
    if ctx.is_admin:
        return sa.true()
    own = m.Image.owner == ctx.project_id
    accepted = m.Image.id.in_(
        sa.select(m.ImageMember.image_id).where(
            m.ImageMember.member == ctx.project_id, m.ImageMember.status == "accepted"
        )
    )
    any_member = m.Image.id.in_(
        sa.select(m.ImageMember.image_id).where(m.ImageMember.member == ctx.project_id)
    )
    if visibility == "community":
        return m.Image.visibility == "community"
    if visibility == "shared":
        return sa.and_(m.Image.visibility == "shared", sa.or_(own, any_member))
    if visibility in ("public", "private"):
        return sa.or_(m.Image.visibility == "public", own)
    if visibility == "all":
        return sa.or_(m.Image.visibility.in_(("public", "community")), own, any_member)
    return sa.or_(m.Image.visibility == "public", own, accepted)

"""Pieces every image route uses: rules, tag loading, the image response."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.asgi.policy import MEMBER, READER
from stratus.image import models as m

# Glance's defaults: anyone with a role in the project reads, members and admins write.
READ = READER
WRITE = MEMBER


async def tags_of(session: AsyncSession, image_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in image_ids}
    if image_ids:
        rows = await session.execute(
            sa.select(m.ImageTag.image_id, m.ImageTag.value).where(
                m.ImageTag.image_id.in_(image_ids)
            )
        )
        for image_id, value in rows:
            out[image_id].append(value)
    return out


async def set_tags(session: AsyncSession, image_id: str, tags: list[str]) -> None:
    await session.execute(sa.delete(m.ImageTag).where(m.ImageTag.image_id == image_id))
    session.add_all(m.ImageTag(image_id=image_id, value=t) for t in sorted(set(tags)))

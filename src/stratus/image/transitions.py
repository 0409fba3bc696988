"""Image status changes, each one conditional on the status it leaves.

queued → saving → active for ``PUT /file``; queued → uploading → importing → active for
``glance-direct``; a failure while data moves marks the image ``killed`` (data removed),
while refused content puts it back to ``queued`` so the right data can be sent. Every
change is an ``UPDATE ... WHERE status IN (...)``, so two uploads racing for one image
cannot both start, and an image deleted mid-upload has its new data removed.
"""

from __future__ import annotations

import sqlalchemy as sa

from stratus.common.db import Database
from stratus.common.db.types import utcnow
from stratus.common.errors import Conflict
from stratus.image import models as m
from stratus.image.ingest import HASH_ALGO, Ingested


async def begin(db: Database, image_id: str, sources: tuple[str, ...], target: str) -> None:
    async with db.session() as s:
        result = await s.execute(
            sa.update(m.Image)
            .where(m.Image.id == image_id, m.Image.status.in_(sources))
            .values(status=target, updated_at=utcnow())
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            image = await s.get(m.Image, image_id)
            current = image.status if image else "deleted"
            raise Conflict(
                "image.status.conflict",
                f"Image status transition from {current} to {target} is not allowed",
            )


async def settle(db: Database, image_id: str, source: str, target: str) -> bool:
    """Move an image from ``source`` to ``target`` (a failure path); False if it moved on."""
    async with db.session() as s:
        result = await s.execute(
            sa.update(m.Image)
            .where(m.Image.id == image_id, m.Image.status == source)
            .values(status=target, updated_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def activate(db: Database, image_id: str, source: str, store: str, data: Ingested) -> bool:
    """Record the stored data and make the image active; False if it was deleted or
    moved on meanwhile (the caller then removes the data)."""
    async with db.session() as s:
        image = await s.get(m.Image, image_id, with_for_update=True)
        if image is None or image.status != source:
            return False
        image.status = "active"
        image.size = data.size
        image.checksum = data.checksum
        image.os_hash_algo = HASH_ALGO
        image.os_hash_value = data.os_hash_value
        image.virtual_size = data.virtual_size
        image.locations = [{"store": store, "key": data.key}]
        image.updated_at = utcnow()
    return True


async def add_location(db: Database, image_id: str, store: str, key: str) -> bool:
    async with db.session() as s:
        image = await s.get(m.Image, image_id, with_for_update=True)
        if image is None or image.status != "active":
            return False
        image.locations = [*(image.locations or []), {"store": store, "key": key}]
        image.updated_at = utcnow()
    return True


async def bytes_used(db: Database, owner: str | None) -> int:
    async with db.session() as s:
        used = await s.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(m.Image.size), 0)).where(m.Image.owner == owner)
        )
    return int(used or 0)

"""The image service's tables. Other services ask for images over the API or RPC."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.common.db.types import IdColumn, NameColumn, UtcDateTime, service_metadata, utcnow


def new_image_id() -> str:
    """Glance's ids are UUIDs in their dashed form, and clients match on that."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = service_metadata()


class Image(Base):
    __tablename__ = "images"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_image_id)
    name: Mapped[str | None] = mapped_column(NameColumn, index=True)
    status: Mapped[str] = mapped_column(sa.String(30), index=True, default="queued")
    visibility: Mapped[str] = mapped_column(sa.String(20), index=True, default="shared")
    owner: Mapped[str | None] = mapped_column(IdColumn, index=True)
    protected: Mapped[bool] = mapped_column(default=False)
    os_hidden: Mapped[bool] = mapped_column(default=False)
    disk_format: Mapped[str | None] = mapped_column(sa.String(20))
    container_format: Mapped[str | None] = mapped_column(sa.String(20))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    checksum: Mapped[str | None] = mapped_column(sa.String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(sa.String(64))
    os_hash_value: Mapped[str | None] = mapped_column(sa.String(128))
    min_disk: Mapped[int] = mapped_column(default=0)
    min_ram: Mapped[int] = mapped_column(default=0)
    # where the data is: [{"store": "file", "key": "<store-specific key>"}, ...], one
    # entry per store holding a copy (``copy-image`` adds one)
    locations: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    # free-form properties (kernel_id, architecture, hw_*, os_*...), shown top-level
    properties: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ImageTag(Base):
    __tablename__ = "image_tags"
    image_id: Mapped[str] = mapped_column(
        sa.String(36), sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(sa.String(255), primary_key=True)


class ImageMember(Base):
    __tablename__ = "image_members"
    image_id: Mapped[str] = mapped_column(
        sa.String(36), sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    member: Mapped[str] = mapped_column(IdColumn, primary_key=True, index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

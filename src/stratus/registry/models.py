"""The registry's one table."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.common.db.types import (
    IdColumn,
    NameColumn,
    UtcDateTime,
    new_id,
    service_metadata,
    utcnow,
)


class Base(DeclarativeBase):
    metadata = service_metadata()


class ServiceRecord(Base):
    __tablename__ = "service_records"
    __table_args__ = (sa.UniqueConstraint("host", "binary"),)
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    host: Mapped[str] = mapped_column(NameColumn)
    binary: Mapped[str] = mapped_column(NameColumn)  # e.g. stratus-identity, stratus-compute
    topic: Mapped[str] = mapped_column(NameColumn, default="")
    version: Mapped[str] = mapped_column(sa.String(64), default="")
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(255))
    forced_down: Mapped[bool] = mapped_column(default=False)
    report_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

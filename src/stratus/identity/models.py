"""The identity service's tables. No other service reads them; they ask over the API or RPC."""

from __future__ import annotations

import datetime as dt
from typing import Any

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

GLOBAL_DOMAIN_KEY = "<<global>>"  # roles.domain_key for roles that belong to no domain


class Base(DeclarativeBase):
    metadata = service_metadata()


class Domain(Base):
    __tablename__ = "domains"
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NameColumn, unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NameColumn)
    domain_id: Mapped[str] = mapped_column(IdColumn, sa.ForeignKey("domains.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(IdColumn, sa.ForeignKey("projects.id"))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NameColumn)
    domain_id: Mapped[str] = mapped_column(IdColumn, sa.ForeignKey("domains.id"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    default_project_id: Mapped[str | None] = mapped_column(IdColumn)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    password_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    email: Mapped[str | None] = mapped_column(sa.String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NameColumn)
    domain_id: Mapped[str] = mapped_column(IdColumn, sa.ForeignKey("domains.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class GroupMember(Base):
    __tablename__ = "group_members"
    group_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (sa.UniqueConstraint("domain_key", "name"),)
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NameColumn)
    domain_id: Mapped[str | None] = mapped_column(IdColumn, sa.ForeignKey("domains.id"))
    domain_key: Mapped[str] = mapped_column(IdColumn, default=GLOBAL_DOMAIN_KEY)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Assignment(Base):
    """A role granted to a user or group on a project or domain."""

    __tablename__ = "assignments"
    type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # see ASSIGNMENT_TYPES
    actor_id: Mapped[str] = mapped_column(IdColumn, primary_key=True, index=True)
    target_id: Mapped[str] = mapped_column(IdColumn, primary_key=True, index=True)
    role_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    inherited: Mapped[bool] = mapped_column(primary_key=True, default=False)


class ImpliedRole(Base):
    """An inference rule: whoever holds ``prior_role_id`` also holds ``implied_role_id``."""

    __tablename__ = "implied_roles"
    prior_role_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


ASSIGNMENT_TYPES = ("UserProject", "UserDomain", "GroupProject", "GroupDomain")
# Grants on the system (Keystone's system scope) share the table, with a fixed target.
SYSTEM_ASSIGNMENT_TYPES = {"user": "UserSystem", "group": "GroupSystem"}
SYSTEM_TARGET = "system"


class Region(Base):
    __tablename__ = "regions"
    id: Mapped[str] = mapped_column(NameColumn, primary_key=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    parent_region_id: Mapped[str | None] = mapped_column(NameColumn, sa.ForeignKey("regions.id"))
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class CatalogService(Base):
    __tablename__ = "services"
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(sa.String(255), index=True)
    name: Mapped[str] = mapped_column(NameColumn, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Endpoint(Base):
    __tablename__ = "endpoints"
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    interface: Mapped[str] = mapped_column(sa.String(8))  # public | internal | admin
    region_id: Mapped[str | None] = mapped_column(NameColumn, sa.ForeignKey("regions.id"))
    url: Mapped[str] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class ApplicationCredential(Base):
    __tablename__ = "application_credentials"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NameColumn)
    user_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(IdColumn, sa.ForeignKey("projects.id"))
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    unrestricted: Mapped[bool] = mapped_column(default=False)
    role_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Credential(Base):
    """A stored credential; for type ``ec2`` the blob holds access and secret (encrypted)."""

    __tablename__ = "credentials"
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        IdColumn, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(IdColumn)
    type: Mapped[str] = mapped_column(sa.String(255))
    encrypted_blob: Mapped[str] = mapped_column(sa.Text)
    access_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class RevocationEvent(Base):
    """Tokens matching every non-null field and issued before ``issued_before`` are revoked."""

    __tablename__ = "revocation_events"
    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str | None] = mapped_column(IdColumn, index=True)
    project_id: Mapped[str | None] = mapped_column(IdColumn)
    domain_id: Mapped[str | None] = mapped_column(IdColumn)
    audit_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    audit_chain_id: Mapped[str | None] = mapped_column(sa.String(64))
    app_cred_id: Mapped[str | None] = mapped_column(IdColumn)
    issued_before: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Policy(Base):
    """A policy blob stored for other services (Keystone's deprecated ``/v3/policies``)."""

    __tablename__ = "policies"
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(sa.String(255))
    blob: Mapped[str] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

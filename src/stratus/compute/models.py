"""The compute service's tables (API and conductor; agents never import this).

Instances keep a copy of their flavor (``flavor`` JSON), as Nova does, so editing or
deleting a flavor never changes a running server. Deleted instances keep their row with
``vm_state = deleted`` and ``deleted_at`` (for ``changes-since`` and usage), and are
hidden from ordinary listings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.common.db.types import IdColumn, NameColumn, UtcDateTime, service_metadata, utcnow


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = service_metadata()


class Flavor(Base):
    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)  # flavorid, any string
    name: Mapped[str] = mapped_column(NameColumn, unique=True)
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    root_gb: Mapped[int]
    ephemeral_gb: Mapped[int] = mapped_column(default=0)
    swap_mb: Mapped[int] = mapped_column(default=0)
    rxtx_factor: Mapped[float] = mapped_column(default=1.0)
    is_public: Mapped[bool] = mapped_column(default=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    extra_specs: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class FlavorAccess(Base):
    __tablename__ = "flavor_access"
    flavor_id: Mapped[str] = mapped_column(
        sa.String(255), sa.ForeignKey("flavors.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(IdColumn, primary_key=True)


class KeyPair(Base):
    __tablename__ = "key_pairs"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(IdColumn, index=True)
    name: Mapped[str] = mapped_column(NameColumn)
    type: Mapped[str] = mapped_column(sa.String(10), default="ssh")
    public_key: Mapped[str] = mapped_column(sa.Text)
    fingerprint: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Instance(Base):
    __tablename__ = "instances"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    user_id: Mapped[str] = mapped_column(IdColumn)
    name: Mapped[str] = mapped_column(NameColumn, index=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    hostname: Mapped[str] = mapped_column(NameColumn)
    image_ref: Mapped[str] = mapped_column(sa.String(36), default="")
    # the image's properties when it was booted or rebuilt: a retry, resize or migration
    # schedules with the same constraints (architecture, hypervisor type...)
    image_properties: Mapped[dict[str, str] | None] = mapped_column(sa.JSON, default=dict)
    flavor: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # a copy, see module doc
    vm_state: Mapped[str] = mapped_column(sa.String(20), index=True)
    task_state: Mapped[str | None] = mapped_column(sa.String(30))
    power_state: Mapped[int] = mapped_column(default=0)
    host: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    node: Mapped[str | None] = mapped_column(sa.String(255))
    availability_zone: Mapped[str | None] = mapped_column(sa.String(255))
    key_name: Mapped[str | None] = mapped_column(NameColumn)
    key_data: Mapped[str | None] = mapped_column(sa.Text)
    user_data: Mapped[str | None] = mapped_column(sa.Text)  # base64, as given
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    security_groups: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # resolved at create: [{"network_id" or "port_id", "fixed_ip"?}], in NIC order
    networks: Mapped[Any] = mapped_column(sa.JSON, default=list)
    addresses: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # the ports the network service bound for it (``network.binding_rpc.BoundPort`` dumps),
    # in NIC order: what every build of it on any host plugs, and ``addresses`` shows
    network_info: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON, default=list)
    server_group_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    scheduler_hints: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    locked: Mapped[bool] = mapped_column(default=False)
    locked_by: Mapped[str | None] = mapped_column(sa.String(10))  # "owner" or "admin"
    locked_reason: Mapped[str | None] = mapped_column(sa.Text)
    launch_index: Mapped[int] = mapped_column(default=0)
    reservation_id: Mapped[str] = mapped_column(sa.String(64), default="")
    # the guest gets a config drive (metadata.config_drive builds it) besides the service
    config_drive: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    fault: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # code, message, details
    # resize/migration bookkeeping: the flavor and host being moved from/to
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    new_flavor: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    source_host: Mapped[str | None] = mapped_column(sa.String(255))
    build_attempts: Mapped[int] = mapped_column(default=0)
    # set while a spawned instance waits for its ports to be wired (network-vif-plugged):
    # past it, any conductor's sweep fails the wait (conductor/plugging.py)
    vif_deadline: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UtcDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    launched_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    terminated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)


class InstanceAction(Base):
    __tablename__ = "instance_actions"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    request_id: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(40))
    project_id: Mapped[str] = mapped_column(IdColumn)
    user_id: Mapped[str] = mapped_column(IdColumn)
    message: Mapped[str | None] = mapped_column(sa.Text)
    start_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class InstanceActionEvent(Base):
    __tablename__ = "instance_action_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        sa.ForeignKey("instance_actions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(sa.String(80))
    host: Mapped[str | None] = mapped_column(sa.String(255))
    result: Mapped[str | None] = mapped_column(sa.String(20))  # Success / Error
    traceback: Mapped[str | None] = mapped_column(sa.Text)  # admin-only detail
    start_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finish_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ServerGroup(Base):
    __tablename__ = "server_groups"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    user_id: Mapped[str] = mapped_column(IdColumn)
    name: Mapped[str] = mapped_column(NameColumn)
    policy: Mapped[str] = mapped_column(sa.String(30))  # affinity, anti-affinity, soft-*
    rules: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # max_server_per_host
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ComputeNode(Base):
    """One hypervisor host as its agent last reported it, plus what is claimed on it."""

    __tablename__ = "compute_nodes"
    host: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    hypervisor_hostname: Mapped[str] = mapped_column(sa.String(255))
    hypervisor_type: Mapped[str] = mapped_column(sa.String(30))
    hypervisor_version: Mapped[int] = mapped_column(default=1)
    cpu_arch: Mapped[str] = mapped_column(sa.String(30), default="x86_64")
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    local_gb: Mapped[int]
    vcpus_used: Mapped[int] = mapped_column(default=0)
    memory_mb_used: Mapped[int] = mapped_column(default=0)
    local_gb_used: Mapped[int] = mapped_column(default=0)
    running_vms: Mapped[int] = mapped_column(default=0)
    availability_zone: Mapped[str] = mapped_column(sa.String(255), default="nova")
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    forced_down: Mapped[bool] = mapped_column(default=False)
    last_seen: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Aggregate(Base):
    """A host aggregate (os-aggregates). Its zone is kept both in ``availability_zone`` and
    as the ``availability_zone`` metadata key, as Nova shows it; the scheduler reads both
    columns, the API keeps them equal."""

    __tablename__ = "aggregates"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(NameColumn, unique=True)
    availability_zone: Mapped[str | None] = mapped_column(sa.String(255))
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON, default=dict)
    hosts: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # null until changed


class QuotaLimit(Base):
    """A project's override of a default quota (os-quota-sets)."""

    __tablename__ = "quota_limits"
    project_id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    resource: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    hard_limit: Mapped[int]


class ResourceClaim(Base):
    """What the scheduler reserved for one instance on one host, until released.

    Written by the scheduler in the same transaction as its conditional increment of
    ``ComputeNode.*_used`` (so the counters always equal the sum of live claims), and
    deleted with the matching decrement: a duplicated release finds no row and changes
    nothing. An instance being moved holds a claim on its source and its destination.
    """

    __tablename__ = "resource_claims"
    instance_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(255), primary_key=True, index=True)
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    disk_gb: Mapped[int]
    server_group_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

"""The network service's tables. Other services ask for networks and ports over the API
or RPC; the network agent (part 2) gets everything it needs in messages.

Ids are dashed UUIDs, as Neutron's are (clients tell a name from an id by that shape).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stratus.common.db.types import IdColumn, NameColumn, UtcDateTime, service_metadata, utcnow

UuidColumn = sa.String(36)
AddressColumn = sa.String(64)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = service_metadata()

    def __init__(self, **values: Any) -> None:
        """Column defaults apply at construction, not only at insert, so code that checks a
        new row before it is flushed (``port.device_owner``) sees the real value."""
        for column in self.__table__.columns:
            default = column.default
            if column.key in values or default is None:
                continue
            if default.is_scalar:
                values[column.key] = default.arg
            elif default.is_callable:
                values[column.key] = default.arg(None)
        for key, value in values.items():
            setattr(self, key, value)


class Standard:
    """Neutron's standard attributes: description, timestamps and revision number."""

    description: Mapped[str] = mapped_column(sa.String(255), default="")
    revision_number: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    def touch(self) -> None:
        """Record an update: bump the revision and the update time."""
        self.revision_number += 1
        self.updated_at = utcnow()


class Network(Standard, Base):
    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    name: Mapped[str] = mapped_column(NameColumn, default="", index=True)
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    shared: Mapped[bool] = mapped_column(default=False, index=True)
    external: Mapped[bool] = mapped_column(default=False, index=True)  # router:external
    mtu: Mapped[int] = mapped_column(default=1450)
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    # the provider segment the data plane builds: flat/vlan on a physical network, vxlan
    network_type: Mapped[str] = mapped_column(sa.String(16), default="vxlan")
    physical_network: Mapped[str | None] = mapped_column(sa.String(64))
    segmentation_id: Mapped[int | None] = mapped_column()


class Segment(Base):
    """One row per segment in use; the primary key is what makes two networks unable to
    share a VXLAN id, a VLAN id on one physical network, or a flat physical network
    (flat segments use id 0, VXLAN ones the physical network '')."""

    __tablename__ = "network_segments"
    network_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    physical_network: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    segmentation_id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("networks.id", ondelete="CASCADE"), unique=True
    )


class Subnet(Standard, Base):
    __tablename__ = "subnets"
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    network_id: Mapped[str] = mapped_column(UuidColumn, sa.ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(NameColumn, default="", index=True)
    ip_version: Mapped[int] = mapped_column()
    cidr: Mapped[str] = mapped_column(AddressColumn)
    gateway_ip: Mapped[str | None] = mapped_column(AddressColumn)
    enable_dhcp: Mapped[bool] = mapped_column(default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(sa.String(20))
    ipv6_address_mode: Mapped[str | None] = mapped_column(sa.String(20))
    # [{"start": "10.0.0.2", "end": "10.0.0.254"}, ...], in address order
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # [{"destination": "192.168.0.0/24", "nexthop": "10.0.0.5"}, ...]
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)


class Port(Standard, Base):
    __tablename__ = "ports"
    __table_args__ = (sa.UniqueConstraint("network_id", "mac_address"),)
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    network_id: Mapped[str] = mapped_column(UuidColumn, sa.ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(NameColumn, default="")
    mac_address: Mapped[str] = mapped_column(sa.String(17))
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    # DOWN until the network agent reports the port wired, then ACTIVE
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(NameColumn, default="", index=True)
    device_owner: Mapped[str] = mapped_column(NameColumn, default="", index=True)
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    # [{"ip_address": "10.0.0.0/24" or an address, "mac_address": "fa:16:3e:..."}]
    allowed_address_pairs: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    # where and how the port is plugged: the host compute chose, and what it must do
    binding_host_id: Mapped[str] = mapped_column(NameColumn, default="", index=True)
    binding_vif_type: Mapped[str] = mapped_column(sa.String(32), default="unbound")
    binding_vif_details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    binding_vnic_type: Mapped[str] = mapped_column(sa.String(32), default="normal")
    binding_profile: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class IpAllocation(Base):
    """An address a port holds. The primary key (subnet, address) is what makes a double
    allocation impossible, whatever number of API processes race for the last address."""

    __tablename__ = "ip_allocations"
    subnet_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("subnets.id"), primary_key=True
    )
    ip_address: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    port_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("ports.id", ondelete="CASCADE"), index=True
    )
    network_id: Mapped[str] = mapped_column(UuidColumn, index=True)


class SecurityGroup(Standard, Base):
    __tablename__ = "security_groups"
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    name: Mapped[str] = mapped_column(NameColumn, default="", index=True)


class DefaultSecurityGroup(Base):
    """A project's ``default`` group; the primary key keeps it to one per project."""

    __tablename__ = "default_security_groups"
    project_id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("security_groups.id", ondelete="CASCADE"), unique=True
    )


class SecurityGroupRule(Standard, Base):
    __tablename__ = "security_group_rules"
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    security_group_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(sa.String(8))
    ethertype: Mapped[str] = mapped_column(sa.String(4))
    protocol: Mapped[str | None] = mapped_column(sa.String(40))
    port_range_min: Mapped[int | None] = mapped_column()
    port_range_max: Mapped[int | None] = mapped_column()
    remote_ip_prefix: Mapped[str | None] = mapped_column(AddressColumn)
    remote_group_id: Mapped[str | None] = mapped_column(
        UuidColumn, sa.ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )


class PortSecurityGroup(Base):
    __tablename__ = "port_security_groups"
    port_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("security_groups.id"), primary_key=True, index=True
    )


class QuotaLimit(Base):
    """A project's override of one resource's default quota."""

    __tablename__ = "network_quota_limits"
    project_id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    resource: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column()


# ---- L3: routers, floating IPs, port forwardings ---------------------------------------


class Router(Standard, Base):
    """A router; its ports (gateway and interfaces) are ports whose ``device_id`` is the
    router's id, so the IPAM and "in use" checks of ports apply to them unchanged."""

    __tablename__ = "routers"
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    name: Mapped[str] = mapped_column(NameColumn, default="", index=True)
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    gw_port_id: Mapped[str | None] = mapped_column(
        UuidColumn, sa.ForeignKey("ports.id"), unique=True
    )
    gw_network_id: Mapped[str | None] = mapped_column(
        UuidColumn, sa.ForeignKey("networks.id"), index=True
    )
    enable_snat: Mapped[bool] = mapped_column(default=True)


class RouterRoute(Base):
    """A static route of a router (extraroute)."""

    __tablename__ = "router_routes"
    router_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True
    )
    destination: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    nexthop: Mapped[str] = mapped_column(AddressColumn, primary_key=True)


class FloatingIp(Standard, Base):
    """A public address held by a port of the external network (device owner
    ``network:floatingip``). The unique key keeps one fixed IP to one floating IP per
    external network, whatever the races (NULLs, an unassociated IP, never collide)."""

    __tablename__ = "floating_ips"
    __table_args__ = (
        sa.UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address"),
    )
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(IdColumn, index=True)
    floating_network_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("networks.id"), index=True
    )
    floating_ip_address: Mapped[str] = mapped_column(AddressColumn)
    floating_port_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("ports.id"), unique=True
    )
    fixed_port_id: Mapped[str | None] = mapped_column(
        UuidColumn, sa.ForeignKey("ports.id"), index=True
    )
    fixed_ip_address: Mapped[str | None] = mapped_column(AddressColumn)
    router_id: Mapped[str | None] = mapped_column(
        UuidColumn, sa.ForeignKey("routers.id"), index=True
    )


class PortForwarding(Base):
    """A floating IP's external port sent to one internal address and port; both ends
    are unique by key, so two racing creates cannot claim either twice."""

    __tablename__ = "port_forwardings"
    __table_args__ = (
        sa.UniqueConstraint("floatingip_id", "external_port", "protocol"),
        sa.UniqueConstraint("internal_port_id", "internal_ip_address", "internal_port", "protocol"),
    )
    id: Mapped[str] = mapped_column(UuidColumn, primary_key=True, default=new_uuid)
    floatingip_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("floating_ips.id", ondelete="CASCADE"), index=True
    )
    protocol: Mapped[str] = mapped_column(sa.String(8))
    external_port: Mapped[int] = mapped_column()
    internal_port: Mapped[int] = mapped_column()
    internal_port_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("ports.id", ondelete="CASCADE"), index=True
    )
    internal_ip_address: Mapped[str] = mapped_column(AddressColumn)
    description: Mapped[str] = mapped_column(sa.String(255), default="")


class AutoAllocatedTopology(Base):
    """A project's auto-allocated network and router; the primary key makes two racing
    requests end with one topology (the loser's transaction is retried and finds it)."""

    __tablename__ = "auto_allocated_topologies"
    project_id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    network_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("networks.id", ondelete="CASCADE"), unique=True
    )
    router_id: Mapped[str | None] = mapped_column(
        UuidColumn, sa.ForeignKey("routers.id", ondelete="SET NULL")
    )


class DefaultExternalNetwork(Base):
    """The external network ``is_default`` names; one row at most, by primary key."""

    __tablename__ = "network_default_external"
    singleton: Mapped[int] = mapped_column(primary_key=True, default=1)
    network_id: Mapped[str] = mapped_column(
        UuidColumn, sa.ForeignKey("networks.id", ondelete="CASCADE"), unique=True
    )

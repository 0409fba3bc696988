"""Network settings: ``[network]`` in the TOML file, ``STRATUS_NETWORK__*`` in the environment."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from stratus.common.config import Section

_MAC_BASE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
VXLAN_OVERHEAD = 50  # outer IPv4 + UDP + VXLAN headers and the inner Ethernet header


class VlanRange(Section):
    """The VLAN ids tenant networks may draw from on one physical network."""

    physical_network: str
    low: int = Field(ge=1, le=4094)
    high: int = Field(ge=1, le=4094)


class NetworkSettings(Section):
    port: int = Field(default=9696, ge=0, le=65535, description="Port of the Neutron v2.0 API.")
    database_url: str = Field(default="", description="Overrides [database].url for networks.")
    base_mac: str = Field(
        default="fa:16:3e:00:00:00",
        description="Ports' MAC addresses keep the leading non-zero octets of this base "
        "(at least three) and draw the rest at random (Neutron's base_mac).",
    )
    vni_min: int = Field(
        default=1, ge=1, le=(1 << 24) - 1, description="First VXLAN id given to tenant networks."
    )
    vni_max: int = Field(
        default=65535, ge=1, le=(1 << 24) - 1, description="Last VXLAN id given to tenant networks."
    )
    flat_networks: list[str] = Field(
        default_factory=lambda: ["physnet1"],
        description="Physical networks on which an admin may create flat provider networks.",
    )
    vlan_ranges: list[VlanRange] = Field(
        default_factory=lambda: [VlanRange(physical_network="physnet1", low=100, high=199)],
        description="Physical networks carrying VLAN provider networks, with the ids an admin "
        "gets when creating a VLAN network without provider:segmentation_id.",
    )
    physnet_mtu: int = Field(
        default=1500, ge=576, le=9216, description="MTU of the physical networks (flat, VLAN)."
    )
    max_list_limit: int = Field(
        default=1000, ge=1, description="Most items one list page returns when none is asked."
    )
    quota_network: int = Field(default=100, ge=-1, description="Networks per project.")
    quota_subnet: int = Field(default=100, ge=-1, description="Subnets per project.")
    quota_port: int = Field(default=500, ge=-1, description="Ports per project.")
    quota_security_group: int = Field(default=10, ge=-1, description="Security groups per project.")
    quota_security_group_rule: int = Field(
        default=100, ge=-1, description="Security group rules per project."
    )
    quota_router: int = Field(default=10, ge=-1, description="Routers per project.")
    quota_floatingip: int = Field(default=50, ge=-1, description="Floating IPs per project.")
    l3_agent_down_time: float = Field(
        default=120.0,
        gt=0,
        description="Seconds without a resync after which a network agent is taken as "
        "gone and its routers are placed on another L3 agent (agents resync every "
        "[network_agent].resync_interval).",
    )
    max_routes: int = Field(default=30, ge=0, description="Static routes per router.")
    public_physical_network: str = Field(
        default="public",
        description="Physical network of the flat external network `public` that "
        "`stratus up` and `stratus bootstrap` create.",
    )
    public_cidr: str = Field(
        default="172.24.4.0/24", description="Subnet of the external network `public`."
    )
    auto_allocated_cidr: str = Field(
        default="10.0.0.0/24",
        description="Subnet of each project's auto-allocated network (projects' networks "
        "are isolated from each other, so they may all use the same range).",
    )

    @field_validator("base_mac")
    @classmethod
    def _check_mac(cls, value: str) -> str:
        value = value.lower()
        if not _MAC_BASE.match(value) or int(value[:2], 16) & 1:
            raise ValueError("base_mac must be a unicast MAC address such as fa:16:3e:00:00:00")
        return value

    @model_validator(mode="after")
    def _check_ranges(self) -> NetworkSettings:
        if self.vni_min > self.vni_max:
            raise ValueError("vni_min must not exceed vni_max")
        for r in self.vlan_ranges:
            if r.low > r.high:
                raise ValueError(f"VLAN range of {r.physical_network}: low exceeds high")
        return self

    @property
    def physical_networks(self) -> set[str]:
        return set(self.flat_networks) | {r.physical_network for r in self.vlan_ranges}

    @property
    def vxlan_mtu(self) -> int:
        return self.physnet_mtu - VXLAN_OVERHEAD

    def default_quotas(self) -> dict[str, int]:
        """Neutron's quota resource names and their defaults (-1: unlimited)."""
        return {
            "network": self.quota_network,
            "subnet": self.quota_subnet,
            "port": self.quota_port,
            "security_group": self.quota_security_group,
            "security_group_rule": self.quota_security_group_rule,
            "router": self.quota_router,
            "floatingip": self.quota_floatingip,
        }

"""RPC between the network service and its agents (one ``network-agent`` per host).

Agents hold no DB credentials (DESIGN.md §1): ``GetHostConfig`` returns all a host must
build, ``EnsureDhcpPort`` makes the port a network's DHCP server uses, ``PortStatus``
reports wired ports (router legs too); routers are placed on agents that say ``l3``.
The service fans out ``NetworkChanged`` on every write so agents resync at once (they
also resync on a timer). This module must not import the SQL layer.

Topics: ``network`` (served by the network service), ``network-agent`` (every agent; the
fan-out).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from stratus.common.rpc import Call, Cast

TOPIC = "network"
AGENT_TOPIC = "network-agent"
DHCP_OWNER = "network:dhcp"
AGENT_BINARY = "stratus-network-agent"  # what agents heartbeat as in the registry


class FixedIp(BaseModel):
    subnet_id: str
    ip_address: str


class AddressPair(BaseModel):
    ip_address: str  # an address or a CIDR
    mac_address: str


class Subnet(BaseModel):
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    dns_nameservers: list[str] = Field(default_factory=list)
    host_routes: list[dict[str, str]] = Field(default_factory=list)
    ipv6_address_mode: str | None = None


class Network(BaseModel):
    id: str
    project_id: str
    network_type: str  # vxlan, vlan or flat
    physical_network: str | None = None
    segmentation_id: int | None = None
    mtu: int
    subnets: list[Subnet] = Field(default_factory=list)
    # local_ips of the other agents with ports on this network (VXLAN unicast peers)
    peers: list[str] = Field(default_factory=list)


class Port(BaseModel):
    id: str
    network_id: str
    project_id: str
    mac_address: str
    fixed_ips: list[FixedIp] = Field(default_factory=list)
    device_id: str = ""
    device_owner: str = ""
    name: str = ""
    host: str = ""
    admin_state_up: bool = True
    status: str = "DOWN"
    port_security_enabled: bool = True
    security_groups: list[str] = Field(default_factory=list)
    allowed_address_pairs: list[AddressPair] = Field(default_factory=list)


class Rule(BaseModel):
    direction: str  # ingress or egress
    ethertype: str  # IPv4 or IPv6
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


class Gateway(BaseModel):
    network_id: str
    port_id: str
    mac_address: str
    ip_address: str  # the router's address on the external network
    cidr: str  # ip_address with the external subnet's prefix, e.g. 172.24.4.10/24
    gateway_ip: str | None  # the external subnet's gateway: the default route's nexthop
    enable_snat: bool
    mtu: int


class Interface(BaseModel):
    port_id: str
    mac_address: str
    network_id: str
    subnet_id: str
    subnet_cidr: str
    ip_address: str  # the router's address there (the subnet's gateway IP)
    mtu: int
    # IPv6 only: what the router advertises on the leg (None: it sends no RA for it)
    ipv6_ra_mode: str | None = None


class Route(BaseModel):
    destination: str
    nexthop: str


class FloatingIpMapping(BaseModel):
    id: str
    floating_ip_address: str
    fixed_ip_address: str
    fixed_port_id: str


class PortForwardingRule(BaseModel):
    id: str
    floating_ip_address: str
    protocol: str  # tcp or udp
    external_port: int
    internal_ip_address: str
    internal_port: int


class RouterL3(BaseModel):
    """A router as the data plane builds it (l3_view.py reads it from the tables)."""

    id: str
    project_id: str
    admin_state_up: bool
    gateway: Gateway | None
    interfaces: list[Interface]
    routes: list[Route]
    floating_ips: list[FloatingIpMapping]
    port_forwardings: list[PortForwardingRule]


class HostConfig(BaseModel):
    """Everything one host builds: the networks it has ports on, their ports (all of them:
    DHCP needs every host entry; the host's own are those with ``host`` equal to it), the
    rules of the groups its ports use, the member addresses of remote groups, and the
    routers placed on it (their legs are among ``ports``, bound to this host)."""

    host: str
    networks: list[Network] = Field(default_factory=list)
    ports: list[Port] = Field(default_factory=list)
    rules: dict[str, list[Rule]] = Field(default_factory=dict)
    group_members: dict[str, list[str]] = Field(default_factory=dict)
    routers: list[RouterL3] = Field(default_factory=list)


class GetHostConfig(Call[HostConfig]):
    wire_name: ClassVar[str] = "network.get_host_config"
    host: str
    local_ip: str = ""  # this agent's VXLAN endpoint, so peers learn it
    # whether this agent runs routers, and the physical networks whose uplink it has now
    # (routers are placed on such agents: l3_placement.py)
    l3: bool = False
    physical_networks: list[str] = Field(default_factory=list)


class EnsureDhcpPort(Call[Port]):
    """The port of this host's DHCP server on a network, created if missing (Neutron's
    ``network:dhcp`` port), bound to the host."""

    wire_name: ClassVar[str] = "network.ensure_dhcp_port"
    host: str
    network_id: str


class PortStatus(Cast):
    """These ports of ``host`` are wired (``ACTIVE``: their tap is on the bridge) or not
    any more (``DOWN``: the tap went away)."""

    wire_name: ClassVar[str] = "network.port_status"
    host: str
    status: Literal["ACTIVE", "DOWN"]
    port_ids: list[str]


class NetworkChanged(Cast):
    """Something agents build from changed (fan-out); each resyncs, debounced."""

    wire_name: ClassVar[str] = "network.changed"
    resource: str = ""

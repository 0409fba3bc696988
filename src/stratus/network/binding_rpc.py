"""What compute asks of the network service (topic ``network``): which networks a boot
request means, and the ports of a server bound to the host that runs it.

The calls carry the user's request context, so every check is the user's own: a server
gets only networks and ports its project may use. No SQL import here.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from stratus.common.rpc import Call

NETWORK_TOPIC = "network"

# "none": no NIC; "auto": the project's one network, else one made for it (2.37);
# "all": the project's one network or no NIC (before 2.37, when the request named none)
Mode = Literal["none", "auto", "all", "list"]


class RequestedNetwork(BaseModel):
    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None


class CheckedNetworks(BaseModel):
    # what BindPorts will attach, in NIC order (``auto``/``all`` resolved to network ids)
    requested: list[RequestedNetwork]


class CheckNetworks(Call[CheckedNetworks]):
    """Resolve what a boot asks for, as its caller: an unknown network or port, a port in
    use or several candidate networks for ``auto`` are errors before anything is made."""

    wire_name: ClassVar[str] = "network.check_networks"
    mode: Mode
    requested: list[RequestedNetwork] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)  # names or ids, checked too


class PortAddress(BaseModel):
    ip_address: str
    version: int
    subnet_id: str


class BoundPort(BaseModel):
    port_id: str
    network_id: str
    network_name: str
    mac_address: str
    addresses: list[PortAddress]
    mtu: int
    vif_type: str
    vif_details: dict[str, str]
    device: str  # the tap device the host plugs (``tap`` + the port id's first 11)
    preexisting: bool  # the user's own port: unbound, not deleted, with the server


class BoundPorts(BaseModel):
    ports: list[BoundPort]


class BindPorts(Call[BoundPorts]):
    """The server's ports on ``host``: made on first call (from ``requested``), moved to
    ``host`` on any later one (a reschedule, a migration), so a retry is harmless."""

    wire_name: ClassVar[str] = "network.bind_ports"
    instance_id: str
    project_id: str
    host: str
    zone: str | None = None
    requested: list[RequestedNetwork] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)

    def given_ports(self) -> set[str]:
        """The user's own ports among those requested (released, not deleted, later)."""
        return {r.port_id for r in self.requested if r.port_id}


class Unbound(BaseModel):
    deleted: int
    released: int


class UnbindPorts(Call[Unbound]):
    """A server is gone: delete the ports made for it, release the user's own ones."""

    wire_name: ClassVar[str] = "network.unbind_ports"
    instance_id: str
    keep: list[str] = Field(default_factory=list)  # the user's own ports: released


class PortState(BaseModel):
    port_id: str
    status: str  # ACTIVE once the agent of ``host`` has the tap on its bridge, else DOWN
    host: str  # binding:host_id


class PortStates(BaseModel):
    ports: list[PortState]


class GetPortStates(Call[PortStates]):
    """The status of a server's ports now: the conductor asks when it starts waiting for
    them, so a ``PortStatusChanged`` that came before the wait is not missed."""

    wire_name: ClassVar[str] = "network.get_port_states"
    instance_id: str


def tap_name(port_id: str) -> str:
    return f"tap{port_id[:11]}"

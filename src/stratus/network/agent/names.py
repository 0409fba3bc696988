"""Names of everything the agent creates. Each starts with a prefix Stratus owns, so a
cleanup can remove what belongs to no resource any more, and fits Linux's 15 bytes."""

from __future__ import annotations

from stratus.network.binding_rpc import tap_name

BRIDGE = "stqb"
VXLAN = "stqv"
VLAN = "stql"
DHCP_VETH = "stqd"  # the bridge side of the DHCP namespace's veth
DHCP_NS = "stq-dhcp-"
ROUTER_NS = "stq-router-"
ROUTER_INTERFACE = "qr-"  # a router's leg on a subnet, inside its namespace
ROUTER_GATEWAY = "qg-"  # its leg on the external network
TAP = "tap"
NS_DEVICE = "stqns0"  # the DHCP namespace's own side of its veth
METADATA_ADDRESS = "169.254.169.254"


def _short(ident: str) -> str:
    return ident.replace("-", "")[:11]


def bridge(network_id: str) -> str:
    return BRIDGE + _short(network_id)


def vxlan(network_id: str) -> str:
    return VXLAN + _short(network_id)


def vlan(network_id: str) -> str:
    return VLAN + _short(network_id)


def dhcp_veth(network_id: str) -> str:
    return DHCP_VETH + _short(network_id)


def dhcp_namespace(network_id: str, scope: str = "") -> str:
    """``scope`` (the agent's own namespace, if any) keeps simulated hosts apart."""
    return DHCP_NS + network_id + (f"-{scope}" if scope else "")


def network_of_namespace(ns: str, scope: str = "") -> str | None:
    """The network id of one of this agent's DHCP namespaces, else None."""
    if not ns.startswith(DHCP_NS):
        return None
    rest = ns.removeprefix(DHCP_NS)
    net, tail = rest[:36], rest[36:]
    return net if tail == (f"-{scope}" if scope else "") else None


def router_namespace(router_id: str, scope: str = "") -> str:
    return ROUTER_NS + router_id + (f"-{scope}" if scope else "")


def router_of_namespace(ns: str, scope: str = "") -> str | None:
    """The router id of one of this agent's router namespaces, else None."""
    if not ns.startswith(ROUTER_NS):
        return None
    rest = ns.removeprefix(ROUTER_NS)
    router, tail = rest[:36], rest[36:]
    return router if tail == (f"-{scope}" if scope else "") else None


def router_leg(port_id: str, gateway: bool) -> str:
    """The router namespace's end of a leg's veth (the agent's end is ``tap``)."""
    return (ROUTER_GATEWAY if gateway else ROUTER_INTERFACE) + port_id[:11]


def tap(port_id: str) -> str:
    """The device QEMU creates for a port (``PortSpec.device``): the name the network
    service gives compute in ``network.bind_ports`` (``binding_rpc.tap_name``)."""
    return tap_name(port_id)


def owned(ifname: str) -> bool:
    return ifname.startswith((BRIDGE, VXLAN, VLAN, DHCP_VETH))

"""Security group rules as Neutron validates them: direction, ethertype, protocol (by
name or number), port ranges (TCP-like: ports; ICMP: type and code) and one remote,
either a CIDR of the rule's ethertype or another group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stratus.network.attributes import to_int, to_prefix, to_uuid
from stratus.network.errors import bad, bad_request

PROTOCOLS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
ICMP_PROTOCOLS = {1, 58}
ETHERTYPES = ("IPv4", "IPv6")
DIRECTIONS = ("ingress", "egress")


@dataclass(frozen=True)
class RuleSpec:
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None

    def same_as(self, other: Any) -> bool:
        return all(getattr(self, f) == getattr(other, f) for f in self.__dataclass_fields__)


def _protocol(value: Any) -> tuple[str | None, int | None]:
    if value is None or (isinstance(value, str) and value.lower() in ("", "any")):
        return None, None
    text = str(value).lower()
    if text in PROTOCOLS:
        return text, PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text, int(text)
    raise bad(
        "SecurityGroupRuleInvalidProtocol",
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
    )


def _ports(body: dict[str, Any], number: int | None, protocol: str | None) -> tuple[Any, Any]:
    low, high = body.get("port_range_min"), body.get("port_range_max")
    if low is None and high is None:
        return None, None
    if protocol is None:
        raise bad(
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        )
    if number in PORT_PROTOCOLS:
        low = to_int(low if low is not None else high, "port_range_min", 1, 65535)
        high = to_int(high if high is not None else low, "port_range_max", 1, 65535)
        if low > high:
            raise bad(
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )
        return low, high
    if number in ICMP_PROTOCOLS:
        if low is None:
            raise bad(
                "SecurityGroupMissingIcmpType",
                f"ICMP code (port-range-max) {high} is provided but ICMP type "
                "(port-range-min) is missing.",
            )
        low = to_int(low, "port_range_min", 0, 255)
        high = None if high is None else to_int(high, "port_range_max", 0, 255)
        return low, high
    raise bad(
        "SecurityGroupInvalidProtocolForPortRange",
        f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, "
        "UDPLITE, SCTP and DCCP.",
    )


def parse(body: dict[str, Any]) -> RuleSpec:
    direction = body.get("direction")
    if direction not in DIRECTIONS:
        raise bad_request(f"'{direction}' is not in {list(DIRECTIONS)} for direction")
    ethertype = body.get("ethertype") or "IPv4"
    if ethertype not in ETHERTYPES:
        raise bad_request(f"'{ethertype}' is not in {list(ETHERTYPES)} for ethertype")
    protocol, number = _protocol(body.get("protocol"))
    low, high = _ports(body, number, protocol)
    prefix, group = body.get("remote_ip_prefix"), body.get("remote_group_id")
    if prefix is not None and group is not None:
        raise bad(
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
            "Only remote_ip_prefix or remote_group_id may be provided.",
        )
    cidr = None
    if prefix is not None:
        net = to_prefix(prefix, "remote_ip_prefix")
        if f"IPv{net.version}" != ethertype:
            raise bad(
                "SecurityGroupRuleParameterConflict",
                f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
            )
        cidr = str(net)
    remote = None if group is None else to_uuid(group, "remote_group_id")
    return RuleSpec(direction, ethertype, protocol, low, high, cidr, remote)

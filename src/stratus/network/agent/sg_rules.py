"""Security group rules as nftables statements (the ``inet`` half of ``firewall.py``).

Each group has one ingress and one egress chain of its rules, shared by every port in
it. An ingress rule that matches accepts; an egress rule that matches sets the
``EGRESS_OK`` mark bit and returns, so the port's chain can let the packet on to the
destination port's ingress chain (traffic between two ports of this host).
"""

from __future__ import annotations

import ipaddress
import socket

from stratus.network import rpc

PORTED = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "sctp": "sctp", "132": "sctp",
          "udplite": "udplite", "136": "udplite"}  # fmt: skip
ICMP4 = {"icmp", "1"}
ICMP6 = {"icmp", "icmpv6", "ipv6-icmp", "58"}
EGRESS_OK = 0x8000


def group_chain(group_id: str, direction: str) -> str:
    return f"{'gi' if direction == 'ingress' else 'ge'}_{group_id.replace('-', '')[:16]}"


def group_set(group_id: str, version: int) -> str:
    return f"g{group_id.replace('-', '')[:16]}_{version}"


def render(rule: rpc.Rule) -> str:
    """One nft rule body (without ``add rule``) for a security group rule."""
    v6 = rule.ethertype == "IPv6"
    ip = "ip6" if v6 else "ip"
    parts = [f"meta nfproto {'ipv6' if v6 else 'ipv4'}"]
    side = "saddr" if rule.direction == "ingress" else "daddr"
    if rule.remote_ip_prefix:
        prefix = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        if prefix.prefixlen:
            parts.append(f"{ip} {side} {prefix}")
    elif rule.remote_group_id:
        parts.append(f"{ip} {side} @{group_set(rule.remote_group_id, 6 if v6 else 4)}")
    parts.extend(_protocol(rule, v6))
    ok = f"meta mark set meta mark | {EGRESS_OK:#x} return"
    parts.append("accept" if rule.direction == "ingress" else ok)
    return " ".join(parts)


def _protocol(rule: rpc.Rule, v6: bool) -> list[str]:
    proto = (rule.protocol or "").lower()
    if proto in ("", "any"):
        return []
    lo, hi = rule.port_range_min, rule.port_range_max
    if proto in PORTED:
        name = PORTED[proto]
        found = [f"meta l4proto {name}"]
        if lo is not None:
            found.append(f"th dport {lo}" if hi in (None, lo) else f"th dport {lo}-{hi}")
        return found
    if (v6 and proto in ICMP6) or (not v6 and proto in ICMP4):
        kind = "icmpv6" if v6 else "icmp"
        found = [f"meta l4proto {'ipv6-icmp' if v6 else 'icmp'}"]
        if lo is not None:
            found.append(f"{kind} type {lo}")
            if hi is not None:
                found.append(f"{kind} code {hi}")
        return found
    return [f"meta l4proto {_number(proto)}"]


# Neutron's protocol names that /etc/protocols may spell differently or lack
NUMBERS = {"ipv6-encap": 41, "ipv6-frag": 44, "ipv6-nonxt": 59, "ipv6-opts": 60,
           "ipv6-route": 43, "ipip": 4, "vrrp": 112, "pgm": 113, "ospf": 89}  # fmt: skip


def _number(proto: str) -> int:
    """A protocol as its number: nft refuses names it does not know, and one refused rule
    would fail the whole transaction."""
    if proto.isdigit():
        return int(proto)
    if proto in NUMBERS:
        return NUMBERS[proto]
    try:
        return socket.getprotobyname(proto)
    except OSError:
        raise ValueError(f"unknown protocol {proto!r}") from None

"""Address arithmetic of a subnet: default pools, pool validation, gateway, EUI-64.

Pure functions over ``ipaddress`` objects, so the rules are the same for the API, the
IPAM and (later) the DHCP configuration the agent writes.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.network.attributes import IpAddress, IpNetwork, to_ip
from stratus.network.errors import bad, bad_request, conflict


@dataclass(frozen=True)
class Pool:
    first: IpAddress
    last: IpAddress

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def __contains__(self, ip: IpAddress) -> bool:
        return ip.version == self.first.version and int(self.first) <= int(ip) <= int(self.last)

    def as_dict(self) -> dict[str, str]:
        return {"start": str(self.first), "end": str(self.last)}

    def addresses(self) -> Iterator[IpAddress]:
        make = ipaddress.IPv4Address if self.first.version == 4 else ipaddress.IPv6Address
        for value in range(int(self.first), int(self.last) + 1):
            yield make(value)


def usable_range(net: IpNetwork) -> tuple[IpAddress, IpAddress] | None:
    """First and last address a port may hold: not the network address (nor, on IPv6, the
    subnet-router anycast address, which is the same), not the IPv4 broadcast."""
    if net.num_addresses <= 2:
        return None
    first = net.network_address + 1
    last = net.broadcast_address - 1 if net.version == 4 else net.broadcast_address
    return first, last


def within(ip: IpAddress, first: IpAddress, last: IpAddress) -> bool:
    return ip.version == first.version and int(first) <= int(ip) <= int(last)


def default_pools(net: IpNetwork, gateway: IpAddress | None) -> list[Pool]:
    """The whole usable range, split around the gateway."""
    span = usable_range(net)
    if span is None:
        return []
    return _without(Pool(*span), gateway)


def _without(pool: Pool, ip: IpAddress | None) -> list[Pool]:
    if ip is None or ip not in pool:
        return [pool]
    out = []
    if int(ip) > int(pool.first):
        out.append(Pool(pool.first, ip - 1))
    if int(ip) < int(pool.last):
        out.append(Pool(ip + 1, pool.last))
    return out


def check_gateway(net: IpNetwork, value: Any) -> IpAddress:
    """A gateway inside the subnet that a host could hold."""
    ip = to_ip(value, "gateway_ip")
    span = usable_range(net)
    if ip.version != net.version or span is None or not within(ip, *span):
        raise bad_request(f"Gateway ip {ip} is not a valid address on subnet {net}")
    return ip


def parse_pools(net: IpNetwork, given: Any, gateway: IpAddress | None) -> list[Pool]:
    """Allocation pools as a client sends them, validated as Neutron validates them:
    well-formed (400), inside the CIDR (400), not overlapping (409), not holding the
    gateway (409)."""
    if not isinstance(given, list):
        raise bad_request(f"'{given}' is not a list for allocation_pools")
    pools = [_one_pool(net, item) for item in given]
    ordered = sorted(pools, key=lambda p: int(p.first))
    for a, b in itertools.pairwise(ordered):
        if int(b.first) <= int(a.last):
            raise conflict(
                "OverlappingAllocationPools",
                f"Found overlapping allocation pools: {a} {b} for subnet {net}.",
            )
    if gateway is not None:
        for pool in ordered:
            if gateway in pool:
                raise conflict(
                    "GatewayConflictWithAllocationPools",
                    f"Gateway ip {gateway} conflicts with allocation pool {pool}",
                )
    return ordered


def _one_pool(net: IpNetwork, item: Any) -> Pool:
    if not isinstance(item, dict) or set(item) != {"start", "end"}:
        raise bad_request(f"Invalid data format for IP pool: '{item}'")
    first, last = to_ip(item["start"], "start"), to_ip(item["end"], "end")
    pool = Pool(first, last)
    if first.version != last.version or int(first) > int(last):
        raise bad("InvalidAllocationPool", f"The allocation pool {pool} is not valid.")
    span = usable_range(net)
    if (
        first.version != net.version
        or span is None
        or not (within(first, *span) and within(last, *span))
    ):
        raise bad(
            "OutOfBoundsAllocationPool",
            f"The allocation pool {pool} spans beyond the subnet cidr {net}.",
        )
    return pool


def stored(pools: Sequence[Pool]) -> list[dict[str, str]]:
    return [p.as_dict() for p in pools]


def loaded(rows: Sequence[dict[str, str]]) -> list[Pool]:
    return [Pool(ipaddress.ip_address(r["start"]), ipaddress.ip_address(r["end"])) for r in rows]


def eui64(net: IpNetwork, mac: str) -> IpAddress:
    """The SLAAC address a host with ``mac`` takes on a /64 (RFC 4291, appendix A)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface = [*octets[:3], 255, 254, *octets[3:]]
    return net.network_address + int.from_bytes(bytes(interface), "big")

"""IP address management in the network database.

An address is held by one ``ip_allocations`` row whose primary key is (subnet, address):
two transactions choosing the same address cannot both commit, whatever the number of
API processes. The loser's whole transaction is retried (``retry.retrying``) on a fresh read,
choosing at random among the first free addresses so racers rarely collide twice; a
subnet with no free address left is a clean 409 ``IpAddressGenerationFailure``.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.attributes import IpAddress, to_ip, to_uuid
from stratus.network.errors import bad, bad_request, conflict, not_found
from stratus.network.pools import eui64, loaded, usable_range, within

CANDIDATES = 16  # free addresses drawn from, so concurrent creators spread out
AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")


@dataclass(frozen=True)
class IpRequest:
    """One ``fixed_ips`` entry: a subnet, an address, or both."""

    subnet_id: str | None = None
    ip_address: IpAddress | None = None


def parse_fixed_ips(value: Any) -> list[IpRequest]:
    if not isinstance(value, list):
        raise bad_request(f"Invalid data format for fixed IP: '{value}'")
    out = []
    for item in value:
        if not isinstance(item, dict) or not item or set(item) - {"subnet_id", "ip_address"}:
            raise bad_request(f"Invalid data format for fixed IP: '{item}'")
        subnet = to_uuid(item["subnet_id"], "subnet_id") if "subnet_id" in item else None
        ip = to_ip(item["ip_address"], "ip_address") if "ip_address" in item else None
        out.append(IpRequest(subnet, ip))
    addresses = [r.ip_address for r in out if r.ip_address is not None]
    if len(addresses) != len(set(addresses)):
        raise bad_request("Duplicate IP address in fixed_ips")
    return out


async def subnets_of(session: AsyncSession, network_id: str) -> list[m.Subnet]:
    rows = await session.scalars(
        sa.select(m.Subnet)
        .where(m.Subnet.network_id == network_id)
        .order_by(m.Subnet.created_at, m.Subnet.id)
    )
    return list(rows.all())


async def _taken(session: AsyncSession, subnet_id: str) -> set[str]:
    rows = await session.scalars(
        sa.select(m.IpAllocation.ip_address).where(m.IpAllocation.subnet_id == subnet_id)
    )
    return set(rows.all())


async def _free(session: AsyncSession, subnet: m.Subnet) -> IpAddress | None:
    taken = await _taken(session, subnet.id)
    found: list[IpAddress] = []
    for pool in loaded(subnet.allocation_pools):
        for ip in pool.addresses():
            if str(ip) not in taken:
                found.append(ip)
                if len(found) >= CANDIDATES:
                    return random.choice(found)
    return random.choice(found) if found else None


def _is_auto(subnet: m.Subnet) -> bool:
    return subnet.ip_version == 6 and subnet.ipv6_address_mode in AUTO_ADDRESS_MODES


class Assignment:
    """The addresses one port gets on one network, added to the session."""

    def __init__(self, session: AsyncSession, port: m.Port, subnets: Sequence[m.Subnet]) -> None:
        self.session = session
        self.port = port
        self.subnets = {s.id: s for s in subnets}
        self.ordered = list(subnets)
        self.router = port.device_owner.startswith("network:router")

    async def default(self) -> None:
        """No ``fixed_ips``: one IPv4 address, one stateful IPv6 address, and a SLAAC
        address on every automatic IPv6 subnet (Neutron's choice)."""
        for version in (4, 6):
            candidates = [s for s in self.ordered if s.ip_version == version and not _is_auto(s)]
            if candidates and not await self._first_with_room(candidates):
                raise _exhausted(self.port.network_id)
        for subnet in self.ordered:
            if _is_auto(subnet):
                self._hold(subnet, eui64(_net(subnet), self.port.mac_address))

    async def _first_with_room(self, subnets: Sequence[m.Subnet]) -> bool:
        for subnet in subnets:
            ip = await _free(self.session, subnet)
            if ip is not None:
                self._hold(subnet, ip)
                return True
        return False

    async def requested(self, requests: Sequence[IpRequest]) -> None:
        for req in requests:
            subnet = self._subnet_for(req)
            if req.ip_address is None:
                ip = (
                    eui64(_net(subnet), self.port.mac_address)
                    if _is_auto(subnet)
                    else await _free(self.session, subnet)
                )
                if ip is None:
                    raise _exhausted(self.port.network_id)
                self._hold(subnet, ip)
            else:
                await self._specific(subnet, req.ip_address)

    def _subnet_for(self, req: IpRequest) -> m.Subnet:
        if req.subnet_id is not None:
            subnet = self.subnets.get(req.subnet_id)
            if subnet is None:
                raise bad_request(
                    f"Failed to create port on network {self.port.network_id}, because "
                    f"fixed_ips included invalid subnet {req.subnet_id}"
                )
            if req.ip_address is not None and req.ip_address not in _net(subnet):
                raise bad(
                    "InvalidIpForSubnet",
                    f"IP address {req.ip_address} is not a valid IP for the specified subnet.",
                )
            return subnet
        assert req.ip_address is not None
        for subnet in self.ordered:
            if req.ip_address in _net(subnet):
                return subnet
        raise bad(
            "InvalidIpForNetwork",
            f"IP address {req.ip_address} is not a valid IP for any of the subnets on the "
            "specified network.",
        )

    async def _specific(self, subnet: m.Subnet, ip: IpAddress) -> None:
        net = _net(subnet)
        span = usable_range(net)
        if span is None or not within(ip, *span):
            raise bad(
                "InvalidIpForSubnet", f"IP address {ip} is not a valid IP for the specified subnet."
            )
        if _is_auto(subnet) and not self.router:  # a router's leg holds the gateway there
            raise bad_request(
                f"IPv6 address {ip} cannot be directly assigned to a port on subnet "
                f"{subnet.id} as the subnet is configured for automatic addresses"
            )
        in_use = str(ip) in await _taken(self.session, subnet.id)
        if in_use or (str(ip) == subnet.gateway_ip and not self.router):
            raise conflict(
                "IpAddressAlreadyAllocated",
                f"IP address {ip} already allocated in subnet {subnet.id}",
            )
        self._hold(subnet, ip)

    def _hold(self, subnet: m.Subnet, ip: IpAddress) -> None:
        self.session.add(
            m.IpAllocation(
                subnet_id=subnet.id,
                ip_address=str(ip),
                port_id=self.port.id,
                network_id=self.port.network_id,
            )
        )


def _net(subnet: m.Subnet) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(subnet.cidr)


def _exhausted(network_id: str) -> Exception:
    return conflict(
        "IpAddressGenerationFailure", f"No more IP addresses available on network {network_id}."
    )


async def allocate(
    session: AsyncSession, port: m.Port, requests: Sequence[IpRequest] | None
) -> None:
    """Give a new port its addresses (flushed, so a lost race raises here)."""
    assignment = Assignment(session, port, await subnets_of(session, port.network_id))
    if requests is None:
        await assignment.default()
    else:
        await assignment.requested(requests)
    await session.flush()


async def reallocate(session: AsyncSession, port: m.Port, requests: Sequence[IpRequest]) -> None:
    """Replace a port's addresses: entries it already holds stay (a bare ``subnet_id``
    keeps the address it has there), the rest are freed, then new ones are taken."""
    held = list(
        (
            await session.scalars(
                sa.select(m.IpAllocation).where(m.IpAllocation.port_id == port.id)
            )
        ).all()
    )
    kept: set[tuple[str, str]] = set()
    fresh: list[IpRequest] = []
    for req in requests:
        match = next((a for a in held if _matches(a, req) and _key(a) not in kept), None)
        if match is None:
            fresh.append(req)
        else:
            kept.add(_key(match))
    for alloc in held:
        if _key(alloc) not in kept:
            await session.delete(alloc)
    await session.flush()
    assignment = Assignment(session, port, await subnets_of(session, port.network_id))
    await assignment.requested(fresh)
    await session.flush()


def _key(alloc: m.IpAllocation) -> tuple[str, str]:
    return alloc.subnet_id, alloc.ip_address


def _matches(alloc: m.IpAllocation, req: IpRequest) -> bool:
    if req.ip_address is not None and str(req.ip_address) != alloc.ip_address:
        return False
    return req.subnet_id is None or req.subnet_id == alloc.subnet_id


async def check_subnets_exist(session: AsyncSession, requests: Sequence[IpRequest]) -> None:
    """A ``subnet_id`` that names no subnet at all is a 404, as in Neutron."""
    for req in requests:
        if req.subnet_id is not None and await session.get(m.Subnet, req.subnet_id) is None:
            raise not_found("subnet", req.subnet_id)

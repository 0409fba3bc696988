"""The default external network, a project's auto-allocated topology, and the ``public``
network ``stratus up`` and ``stratus bootstrap`` create.

A topology is a network, a subnet and a router with its gateway on the default external
network and an interface on the subnet, all made in one transaction that ends by
inserting the project's ``auto_allocated_topologies`` row: of two racing requests one
commits, the other fails on that key, is retried and finds the winner's topology.
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import default_group, ipam, l3, quotas, segments
from stratus.network import models as m
from stratus.network.errors import bad, conflict
from stratus.network.pools import default_pools, stored
from stratus.network.settings import NetworkSettings

NETWORK_NAME = "auto_allocated_network"
SUBNET_NAME = "auto_allocated_subnet_v4"
ROUTER_NAME = "auto_allocated_router"
PUBLIC = "public"


async def set_default(session: AsyncSession, net: m.Network, value: bool) -> None:
    """``is_default``: at most one external network is the default (409 otherwise)."""
    current = await session.get(m.DefaultExternalNetwork, 1)
    if not value:
        if current is not None and current.network_id == net.id:
            await session.delete(current)
        return
    if not net.external:
        raise bad("BadRequest", "Bad network request: only an external network can be the default.")
    if current is not None and current.network_id != net.id:
        raise conflict(
            "DefaultExternalNetworkExists",
            f"A default external network already exists: {current.network_id}.",
        )
    if current is None:
        session.add(m.DefaultExternalNetwork(singleton=1, network_id=net.id))
    await session.flush()


async def forget_network(session: AsyncSession, network_id: str) -> None:
    """What refers to a network that is being deleted."""
    await session.execute(
        sa.delete(m.DefaultExternalNetwork).where(m.DefaultExternalNetwork.network_id == network_id)
    )
    await session.execute(
        sa.delete(m.AutoAllocatedTopology).where(m.AutoAllocatedTopology.network_id == network_id)
    )


def failure(reason: str) -> Exception:
    return conflict("AutoAllocationFailure", f"Deployment error: {reason}.")


async def default_external(session: AsyncSession) -> m.Network:
    row = await session.get(m.DefaultExternalNetwork, 1)
    net = None if row is None else await session.get(m.Network, row.network_id)
    if net is None or not net.external:
        raise failure("No default router:external network")
    if not await ipam.subnets_of(session, net.id):
        raise failure(f"The default external network {net.id} has no subnet")
    return net


async def new_network(
    session: AsyncSession,
    cfg: NetworkSettings,
    project: str,
    name: str,
    req: segments.SegmentRequest,
) -> m.Network:
    net = m.Network(id=m.new_uuid(), project_id=project, name=name, network_type=req.network_type)
    net.mtu = segments.mtu_limit(cfg, req.network_type)
    session.add(net)
    await session.flush()
    await segments.reserve(session, cfg, req, net)
    return net


def new_subnet(net: m.Network, name: str, cidr: str, *, dhcp: bool) -> m.Subnet:
    """A subnet of the whole range with its first address as gateway."""
    network = ipaddress.ip_network(cidr)
    gw = ipaddress.ip_address(str(next(network.hosts())))
    return m.Subnet(
        id=m.new_uuid(),
        project_id=net.project_id,
        network_id=net.id,
        name=name,
        ip_version=network.version,
        cidr=str(network),
        gateway_ip=str(gw),
        allocation_pools=stored(default_pools(network, gw)),
        enable_dhcp=dhcp,
    )


async def existing(session: AsyncSession, project: str) -> str | None:
    row = await session.get(m.AutoAllocatedTopology, project)
    return None if row is None else row.network_id


async def allocate(session: AsyncSession, cfg: NetworkSettings, project: str) -> str:
    """The project's topology network, made now if it has none."""
    found = await existing(session, project)
    if found is not None:
        return found
    external = await default_external(session)
    for resource in ("network", "subnet", "router"):
        await quotas.check(cfg, session, resource, project)
    net = await new_network(
        session, cfg, project, NETWORK_NAME, segments.SegmentRequest("vxlan", None, None)
    )
    subnet = new_subnet(net, SUBNET_NAME, cfg.auto_allocated_cidr, dhcp=True)
    session.add(subnet)
    router = m.Router(id=m.new_uuid(), project_id=project, name=ROUTER_NAME)
    session.add(router)
    await session.flush()
    await l3.set_gateway(session, cfg, router, l3.GatewayRequest(external.id, None, None))
    await l3.new_port(
        session,
        cfg,
        network=net,
        owner=l3.INTERFACE,
        device_id=router.id,
        project_id=project,
        requests=[ipam.IpRequest(subnet.id, ipaddress.ip_address(subnet.gateway_ip or ""))],
    )
    await default_group.ensure(session, project)
    session.add(m.AutoAllocatedTopology(project_id=project, network_id=net.id, router_id=router.id))
    await session.flush()
    return net.id


async def release(session: AsyncSession, project: str) -> bool:
    """Remove the project's topology; False if it has none. A network still in use by
    other ports fails the delete with 409 ``NetworkInUse`` from the caller's check."""
    row = await session.get(m.AutoAllocatedTopology, project)
    if row is None:
        return False
    ports = await session.scalar(
        sa.select(sa.func.count())
        .select_from(m.Port)
        .where(m.Port.network_id == row.network_id, m.Port.device_owner != l3.INTERFACE)
    )
    if ports:
        raise conflict(
            "NetworkInUse",
            f"Unable to complete operation on network {row.network_id}. "
            "There are one or more ports still in use on the network.",
        )
    network_id, router_id = row.network_id, row.router_id
    await session.delete(row)
    if router_id is not None:
        await _remove_router(session, router_id)
    await _remove_network(session, network_id)
    return True


async def _remove_router(session: AsyncSession, router_id: str) -> None:
    router = await session.get(m.Router, router_id)
    if router is None:
        return
    for port in await l3.interface_ports(session, router.id):
        await l3.delete_port(session, port.id)
    await l3.remove_gateway(session, router)
    await session.execute(sa.delete(m.RouterRoute).where(m.RouterRoute.router_id == router.id))
    await session.delete(router)
    await session.flush()


async def _remove_network(session: AsyncSession, network_id: str) -> None:
    for port_id in (
        await session.scalars(sa.select(m.Port.id).where(m.Port.network_id == network_id))
    ).all():
        await l3.delete_port(session, port_id)
    await session.execute(sa.delete(m.Subnet).where(m.Subnet.network_id == network_id))
    await session.execute(sa.delete(m.Segment).where(m.Segment.network_id == network_id))
    await session.execute(sa.delete(m.Network).where(m.Network.id == network_id))


async def ensure_public(session: AsyncSession, cfg: NetworkSettings, project: str) -> str:
    """The shared external network ``public`` (the default one) with its subnet, made once."""
    found = await session.scalar(
        sa.select(m.Network.id).where(m.Network.name == PUBLIC, m.Network.external).limit(1)
    )
    if found is not None:
        return str(found)
    req = segments.SegmentRequest("flat", cfg.public_physical_network, None)
    net = await new_network(session, cfg, project, PUBLIC, req)
    net.shared = net.external = True
    session.add(new_subnet(net, f"{PUBLIC}-subnet", cfg.public_cidr, dhcp=False))
    if await session.get(m.DefaultExternalNetwork, 1) is None:
        session.add(m.DefaultExternalNetwork(singleton=1, network_id=net.id))
    await session.flush()
    return net.id

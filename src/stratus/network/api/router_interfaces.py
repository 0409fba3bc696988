"""``PUT /v2.0/routers/{id}/add_router_interface`` and ``remove_router_interface``.

By subnet, the router gets a new port holding the subnet's gateway address; by port, an
unused port of the caller's becomes the interface. Either way the port's device owner is
``network:router_interface`` and its device id the router's. One router has one port per
subnet and no two connected subnets overlap (400, as in Neutron).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, ipam, l3
from stratus.network import models as m
from stratus.network.api.common import V2, WRITE, load
from stratus.network.attributes import to_uuid
from stratus.network.errors import bad, conflict, missing
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
ITEM = V2 + "/routers/{router_id}"


async def _target(req: ApiRequest) -> tuple[str | None, str | None]:
    body = await req.json()
    if not isinstance(body, dict) or set(body) - {"subnet_id", "port_id"}:
        raise bad("BadRequest", "Bad router request: Must specify only 'subnet_id' or 'port_id'")
    subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
    if subnet_id is None and port_id is None:
        raise bad("BadRequest", "Bad router request: Either subnet_id or port_id must be specified")
    return (
        None if subnet_id is None else to_uuid(subnet_id, "subnet_id"),
        None if port_id is None else to_uuid(port_id, "port_id"),
    )


async def _check_subnet_fits(session: AsyncSession, router_id: str, subnet: m.Subnet) -> None:
    new = ipaddress.ip_network(subnet.cidr)
    for held in await l3.attached(session, router_id, (l3.INTERFACE,)):
        if held.subnet.id == subnet.id:
            raise l3.bad_router(f"Router already has a port on subnet {subnet.id}")
        if held.cidr.overlaps(new):
            raise l3.bad_router(
                f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr "
                f"{held.subnet.cidr} of subnet {held.subnet.id}"
            )


async def _by_subnet(
    req: ApiRequest, session: AsyncSession, router: m.Router, subnet_id: str
) -> m.Port:
    subnet = await load(session, m.Subnet, subnet_id, access.subnets(req.ctx), "subnet")
    access.check_owner(req.ctx, subnet.project_id, "add_router_interface")
    if subnet.gateway_ip is None:
        raise l3.bad_router("Subnet for router interface must have a gateway IP")
    await _check_subnet_fits(session, router.id, subnet)
    net = await session.get(m.Network, subnet.network_id)
    assert net is not None
    return await l3.new_port(
        session,
        state_of(req).settings,
        network=net,
        owner=l3.INTERFACE,
        device_id=router.id,
        project_id=subnet.project_id,
        requests=[ipam.IpRequest(subnet.id, ipaddress.ip_address(subnet.gateway_ip))],
    )


async def _by_port(
    req: ApiRequest, session: AsyncSession, router: m.Router, port_id: str
) -> m.Port:
    port = await load(session, m.Port, port_id, access.ports(req.ctx), "port")
    access.check_owner(req.ctx, port.project_id, "add_router_interface")
    if port.device_id or port.device_owner:
        raise conflict(
            "PortInUse",
            f"Unable to complete operation on port {port.id} for network {port.network_id}. "
            f"Port already has an attached device {port.device_id}.",
        )
    subnet_ids = (
        await session.scalars(
            sa.select(m.IpAllocation.subnet_id).where(m.IpAllocation.port_id == port.id)
        )
    ).all()
    if not subnet_ids:
        raise l3.bad_router(f"Port {port.id} does not have any fixed IP")
    for subnet_id in subnet_ids:
        subnet = await session.get(m.Subnet, subnet_id)
        assert subnet is not None
        await _check_subnet_fits(session, router.id, subnet)
    port.device_owner, port.device_id = l3.INTERFACE, router.id
    port.touch()
    await session.flush()
    return port


async def _answer(session: AsyncSession, router: m.Router, port: m.Port) -> dict[str, Any]:
    subnet_ids = sorted(
        (
            await session.scalars(
                sa.select(m.IpAllocation.subnet_id).where(m.IpAllocation.port_id == port.id)
            )
        ).all()
    )
    return {
        "id": router.id,
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": port.id,
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
        "network_id": port.network_id,
    }


@routes.route("PUT", ITEM + "/add_router_interface", rule=WRITE)
async def add_router_interface(req: ApiRequest) -> Response:
    subnet_id, port_id = await _target(req)
    if subnet_id is not None and port_id is not None:
        raise bad("BadRequest", "Bad router request: Cannot specify both subnet-id and port-id")

    async def work(session: AsyncSession) -> dict[str, Any]:
        router = await load(
            session, m.Router, req.params["router_id"], access.routers(req.ctx), "router"
        )
        access.check_owner(req.ctx, router.project_id, "add_router_interface")
        if port_id is not None:
            port = await _by_port(req, session, router, port_id)
        else:
            assert subnet_id is not None
            port = await _by_subnet(req, session, router, subnet_id)
        router.touch()
        return await _answer(session, router, port)

    return json_response(await retrying(state_of(req).db, work))


async def _interface(
    session: AsyncSession, router: m.Router, subnet_id: str | None, port_id: str | None
) -> list[l3.Attached]:
    held = await l3.attached(session, router.id, (l3.INTERFACE,))
    if port_id is not None:
        found = [a for a in held if a.port.id == port_id]
        if not found:
            raise missing(
                "RouterInterfaceNotFound",
                f"Router {router.id} does not have an interface with id {port_id}",
            )
        return found
    found = [a for a in held if a.subnet.id == subnet_id]
    if not found:
        raise missing(
            "RouterInterfaceNotFoundForSubnet",
            f"Router {router.id} has no interface on subnet {subnet_id}",
        )
    return [a for a in held if a.port.id == found[0].port.id]


async def _check_unused(session: AsyncSession, router: m.Router, held: list[l3.Attached]) -> None:
    for a in held:
        fips = await session.scalars(
            sa.select(m.FloatingIp.fixed_ip_address).where(m.FloatingIp.router_id == router.id)
        )
        if any(ip and ipaddress.ip_address(ip) in a.cidr for ip in fips):
            raise conflict(
                "RouterInterfaceInUseByFloatingIP",
                f"Router interface for subnet {a.subnet.id} on router {router.id} cannot be "
                "deleted, as it is required by one or more floating IPs.",
            )
        for route in (await l3.routes_of(session, [router.id]))[router.id]:
            if ipaddress.ip_address(route["nexthop"]) in a.cidr:
                raise conflict(
                    "RouterInterfaceInUseByRoute",
                    f"Router interface for subnet {a.subnet.id} on router {router.id} cannot be "
                    "deleted, as it is required by one or more routes.",
                )


@routes.route("PUT", ITEM + "/remove_router_interface", rule=WRITE)
async def remove_router_interface(req: ApiRequest) -> Response:
    subnet_id, port_id = await _target(req)
    async with state_of(req).db.session() as session:
        router = await load(
            session, m.Router, req.params["router_id"], access.routers(req.ctx), "router"
        )
        access.check_owner(req.ctx, router.project_id, "remove_router_interface")
        held = await _interface(session, router, subnet_id, port_id)
        await _check_unused(session, router, held)
        answer = await _answer(session, router, held[0].port)
        await l3.delete_port(session, held[0].port.id)
        router.touch()
    return json_response(answer)

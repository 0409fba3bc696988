"""The network service's answers to compute: resolve a boot's networks, bind a server's
ports to its host, release them when it is gone (messages in ``binding_rpc.py``).

Checks run in the server's project (``CheckNetworks`` with the caller's own context, at
the API, before anything is made): a server can only get networks and ports its project
may use. A user's own port given at boot is released, never deleted, with the server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.errors import StratusError
from stratus.common.rpc import Dispatcher
from stratus.network import access, auto_allocate, default_group, port_attrs, port_factory
from stratus.network import models as m
from stratus.network.api.common import load
from stratus.network.binding_rpc import (
    BindPorts,
    BoundPort,
    BoundPorts,
    CheckedNetworks,
    CheckNetworks,
    PortAddress,
    RequestedNetwork,
    UnbindPorts,
    Unbound,
    tap_name,
)
from stratus.network.errors import bad, conflict, not_found
from stratus.network.retry import retrying
from stratus.network.state import NetworkState


def _in_use(port_id: str) -> Exception:
    return conflict("PortInUse", f"Port {port_id} is still in use.")


async def _candidates(s: AsyncSession, ctx: RequestContext) -> list[m.Network]:
    """What ``auto`` may pick, as Nova asks: the project's own networks, else shared ones
    (external networks never: a server is not plugged into the public network)."""
    own = await s.scalars(
        sa.select(m.Network).where(m.Network.project_id == ctx.project_id, ~m.Network.external)
    )
    found = list(own.all())
    if not found:
        shared = await s.scalars(sa.select(m.Network).where(m.Network.shared, ~m.Network.external))
        found = list(shared.all())
    return found


async def check_networks(
    st: NetworkState, ctx: RequestContext, msg: CheckNetworks
) -> CheckedNetworks:
    if msg.mode == "none":
        return CheckedNetworks(requested=[])
    async with st.db.session() as s:
        await _check_groups(s, ctx.project_id or "", msg.security_groups)
        if msg.mode in ("auto", "all"):
            nets = await _candidates(s, ctx)
            if len(nets) > 1:
                raise conflict(
                    "NetworkAmbiguous",
                    "Multiple possible networks found, use a Network ID to be more specific.",
                )
            if nets or msg.mode == "all":
                return CheckedNetworks(requested=[RequestedNetwork(network_id=n.id) for n in nets])
    if msg.mode == "auto":  # nothing to pick: the project's auto-allocated topology
        network_id = await _auto_allocated(st, ctx.project_id or "")
        return CheckedNetworks(requested=[RequestedNetwork(network_id=network_id)])
    async with st.db.session() as s:
        for r in msg.requested:
            if r.port_id:
                port = await load(s, m.Port, r.port_id, access.ports(ctx), "port")
                if port.device_id:
                    raise _in_use(port.id)
            elif r.network_id:
                await port_factory.network_for_port(ctx, s, r.network_id)
    return CheckedNetworks(requested=msg.requested)


async def _auto_allocated(st: NetworkState, project: str) -> str:
    async def work(s: AsyncSession) -> str:
        return await auto_allocate.allocate(s, st.settings, project)

    try:
        async with st.lock(project):
            return await retrying(st.db, work)
    except StratusError as exc:
        raise bad(
            "AutoAllocationFailure",
            f"Unable to automatically allocate a network for project {project}: {exc}",
        ) from None


async def _check_groups(s: AsyncSession, project_id: str, names: Sequence[str]) -> None:
    """Every group a boot names exists in its project (``default`` always does)."""
    for name in names:
        if name != "default" and await _group(s, project_id, name) is None:
            raise not_found("security_group", name)


async def _group(s: AsyncSession, project_id: str, name: str) -> m.SecurityGroup | None:
    return await s.scalar(
        sa.select(m.SecurityGroup).where(
            m.SecurityGroup.project_id == project_id,
            sa.or_(m.SecurityGroup.name == name, m.SecurityGroup.id == name),
        )
    )


async def _group_ids(s: AsyncSession, project_id: str, names: Sequence[str]) -> list[str]:
    """Security groups named (or given by id) in the server's project."""
    ids: list[str] = []
    for name in names or ["default"]:
        if name == "default":
            ids.append(await default_group.ensure(s, project_id))
            continue
        group = await _group(s, project_id, name)
        if group is None:
            raise not_found("security_group", name)
        ids.append(group.id)
    return sorted(set(ids))


def _bind(port: m.Port, instance_id: str, host: str, zone: str | None) -> None:
    port.device_id = instance_id
    port.device_owner = f"compute:{zone or 'nova'}"
    port.binding_host_id = host
    port_attrs.rebind(port)
    port.touch()


async def _new_port(
    s: AsyncSession, st: NetworkState, ctx: RequestContext, r: RequestedNetwork, groups: list[str]
) -> m.Port:
    body: dict[str, Any] = {"network_id": r.network_id}
    if r.fixed_ip:
        body["fixed_ips"] = [{"ip_address": r.fixed_ip}]
    net = await port_factory.network_for_port(ctx, s, r.network_id or "")
    if net.port_security_enabled:
        body["security_groups"] = groups
    return await port_factory.create(ctx, st.settings, s, body, ctx.project_id or "")


async def _bind_new(
    s: AsyncSession, st: NetworkState, ctx: RequestContext, msg: BindPorts
) -> list[tuple[m.Port, bool]]:
    made: list[tuple[m.Port, bool]] = []
    groups = await _group_ids(s, msg.project_id, msg.security_groups) if msg.requested else []
    for r in msg.requested:
        if r.port_id:
            port = await load(s, m.Port, r.port_id, access.ports(ctx), "port")
            if port.device_id and port.device_id != msg.instance_id:
                raise _in_use(port.id)
            made.append((port, True))
        else:
            made.append((await _new_port(s, st, ctx, r, groups), False))
    for port, _ in made:
        _bind(port, msg.instance_id, msg.host, msg.zone)
    return made


async def _views(s: AsyncSession, ports: Sequence[tuple[m.Port, bool]]) -> list[BoundPort]:
    ids = [p.id for p, _ in ports]
    rows = await s.execute(
        sa.select(m.IpAllocation.port_id, m.IpAllocation.ip_address, m.Subnet.id,
                  m.Subnet.ip_version)
        .join(m.Subnet, m.Subnet.id == m.IpAllocation.subnet_id)
        .where(m.IpAllocation.port_id.in_(ids))
    )  # fmt: skip
    addresses: dict[str, list[PortAddress]] = {}
    for port_id, ip, subnet_id, version in rows:
        addresses.setdefault(port_id, []).append(
            PortAddress(ip_address=ip, version=version, subnet_id=subnet_id)
        )
    views = []
    for port, preexisting in ports:
        net = await s.get(m.Network, port.network_id)
        assert net is not None
        views.append(
            BoundPort(
                port_id=port.id, network_id=net.id, network_name=net.name,
                mac_address=port.mac_address,
                addresses=sorted(addresses.get(port.id, []), key=lambda a: a.version),
                mtu=net.mtu, vif_type=port.binding_vif_type,
                vif_details={k: str(v) for k, v in port.binding_vif_details.items()},
                device=tap_name(port.id), preexisting=preexisting,
            )
        )  # fmt: skip
    return views


async def bind_ports(st: NetworkState, msg: BindPorts) -> BoundPorts:
    ctx = RequestContext(project_id=msg.project_id, roles=["member"])

    async def work(s: AsyncSession) -> BoundPorts:
        found = await s.scalars(
            sa.select(m.Port).where(m.Port.device_id == msg.instance_id).order_by(m.Port.created_at)
        )
        existing = list(found.all())
        if existing:  # a retry or a move: the same ports, on the new host
            for port in existing:
                _bind(port, msg.instance_id, msg.host, msg.zone)
            made = [(p, p.id in msg.given_ports()) for p in existing]
        else:
            made = await _bind_new(s, st, ctx, msg)
        await s.flush()
        return BoundPorts(ports=await _views(s, made))

    async with st.lock(msg.project_id):
        return await retrying(st.db, work)


async def unbind_ports(st: NetworkState, msg: UnbindPorts) -> Unbound:
    async with st.db.session() as s:
        found = await s.scalars(sa.select(m.Port).where(m.Port.device_id == msg.instance_id))
        deleted = released = 0
        for port in found.all():
            if port.id in msg.keep:
                port.device_id = port.device_owner = port.binding_host_id = ""
                port_attrs.rebind(port)
                port.touch()
                released += 1
                continue
            await port_factory.delete(s, port)
            deleted += 1
    return Unbound(deleted=deleted, released=released)


def register(
    dispatcher: Dispatcher, st: NetworkState, changed: Callable[[str], None] | None = None
) -> None:
    """Add the binding calls to the network service's dispatcher. ``changed`` tells the
    agents after a bind or unbind (as an API write does): a port bound to a host is what
    makes that host build the network's bridge and DHCP, and a guest's DHCP client does
    not wait for the agents' periodic resync."""

    def tell(resource: str) -> None:
        if changed is not None:
            changed(resource)

    @dispatcher.handler(CheckNetworks)
    async def _check(ctx: RequestContext, msg: CheckNetworks) -> CheckedNetworks:
        return await check_networks(st, ctx, msg)

    @dispatcher.handler(BindPorts)
    async def _bind_ports(ctx: RequestContext, msg: BindPorts) -> BoundPorts:
        bound = await bind_ports(st, msg)
        tell("ports")
        return bound

    @dispatcher.handler(UnbindPorts)
    async def _unbind(ctx: RequestContext, msg: UnbindPorts) -> Unbound:
        unbound = await unbind_ports(st, msg)
        tell("ports")
        return unbound

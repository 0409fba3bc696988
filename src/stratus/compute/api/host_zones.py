"""Which availability zone each compute host is in: its zoned aggregate's, else its row's.

The scheduler reads the same two tables the same way (``scheduler/host_state.py``), so
the zone the API shows for a host is the zone ``--availability-zone`` places servers in.
A server's zone is its host's (Nova's rule); before it has a host, the zone it asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.compute.models import Aggregate, ComputeNode, Instance


async def aggregate_zones(s: AsyncSession) -> dict[str, str]:
    """host -> zone, for hosts in an aggregate with a zone (the API keeps it to one)."""
    rows = await s.execute(
        sa.select(Aggregate.hosts, Aggregate.availability_zone).where(
            Aggregate.availability_zone.is_not(None)
        )
    )
    return {host: zone for hosts, zone in rows if zone for host in hosts}


async def host_zones(s: AsyncSession, hosts: Collection[str] | None = None) -> dict[str, str]:
    """host -> zone for the compute nodes named (every node when ``hosts`` is None)."""
    by_aggregate = await aggregate_zones(s)
    query = sa.select(ComputeNode.host, ComputeNode.availability_zone)
    if hosts is not None:
        if not hosts:
            return {}
        query = query.where(ComputeNode.host.in_(list(hosts)))
    return {host: by_aggregate.get(host, zone) for host, zone in await s.execute(query)}


async def server_zones(s: AsyncSession, servers: Collection[Instance]) -> dict[str, str]:
    """The zones of the hosts of ``servers``, for ``server_zone``."""
    return await host_zones(s, {i.host for i in servers if i.host})


def server_zone(inst: Instance, zones: Mapping[str, str]) -> str:
    """Nova's ``OS-EXT-AZ:availability_zone``."""
    if inst.host and inst.host in zones:
        return zones[inst.host]
    return inst.availability_zone or ""

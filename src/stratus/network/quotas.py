"""Per-project quotas: defaults from ``[network]``, overrides in
``network_quota_limits``, usage
counted from the rows themselves (nothing to drift out of step).

A create checks and inserts under the project's lock in this process, so one API
process never overshoots; several processes may, by the creates that race (as
Neutron's counting quota driver may).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.errors import over_quota
from stratus.network.settings import NetworkSettings

Counted = type[
    m.Network | m.Subnet | m.Port | m.SecurityGroup | m.SecurityGroupRule | m.Router | m.FloatingIp
]
COUNTED: dict[str, Counted] = {
    "network": m.Network,
    "subnet": m.Subnet,
    "port": m.Port,
    "security_group": m.SecurityGroup,
    "security_group_rule": m.SecurityGroupRule,
    "router": m.Router,
    "floatingip": m.FloatingIp,
}


async def limits_of(cfg: NetworkSettings, session: AsyncSession, project_id: str) -> dict[str, int]:
    limits = cfg.default_quotas()
    rows = await session.execute(
        sa.select(m.QuotaLimit.resource, m.QuotaLimit.hard_limit).where(
            m.QuotaLimit.project_id == project_id
        )
    )
    for resource, limit in rows:
        if resource in limits:
            limits[resource] = limit
    return limits


async def used(session: AsyncSession, resource: str, project_id: str) -> int:
    model = COUNTED[resource]
    count = await session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.project_id == project_id)
    )
    return int(count or 0)


async def usage_of(session: AsyncSession, project_id: str) -> dict[str, int]:
    return {name: await used(session, name, project_id) for name in COUNTED}


async def check(
    cfg: NetworkSettings, session: AsyncSession, resource: str, project_id: str, adding: int = 1
) -> None:
    """Refuse with 409 ``OverQuota`` if ``adding`` more would pass the project's limit."""
    limit = (await limits_of(cfg, session, project_id))[resource]
    if limit >= 0 and await used(session, resource, project_id) + adding > limit:
        raise over_quota(resource)

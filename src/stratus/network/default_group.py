"""Each project's ``default`` security group, made on first use with Neutron's rules:
all egress (IPv4 and IPv6), and ingress from members of the group itself.

``default_security_groups`` has the project as primary key, so two first uses at once
make one group: the loser's transaction fails and is retried, finding the winner's.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m

NAME = "default"
DESCRIPTION = "Default security group"


def egress_rules(group: m.SecurityGroup) -> list[m.SecurityGroupRule]:
    """The two rules every new group starts with."""
    return [
        m.SecurityGroupRule(
            project_id=group.project_id,
            security_group_id=group.id,
            direction="egress",
            ethertype=ethertype,
        )
        for ethertype in ("IPv4", "IPv6")
    ]


async def default_group_id(session: AsyncSession, project_id: str) -> str | None:
    found: str | None = await session.scalar(
        sa.select(m.DefaultSecurityGroup.security_group_id).where(
            m.DefaultSecurityGroup.project_id == project_id
        )
    )
    return found


async def ensure(session: AsyncSession, project_id: str) -> str:
    """The id of the project's default group, created with its rules if missing (flushed:
    a concurrent creator makes this raise ``IntegrityError``)."""
    existing = await default_group_id(session, project_id)
    if existing is not None:
        return existing
    group = m.SecurityGroup(
        id=m.new_uuid(), project_id=project_id, name=NAME, description=DESCRIPTION
    )
    session.add(group)
    await session.flush()
    session.add(m.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
    session.add_all(egress_rules(group))
    session.add_all(
        m.SecurityGroupRule(
            project_id=project_id,
            security_group_id=group.id,
            direction="ingress",
            ethertype=ethertype,
            remote_group_id=group.id,
        )
        for ethertype in ("IPv4", "IPv6")
    )
    await session.flush()
    return group.id

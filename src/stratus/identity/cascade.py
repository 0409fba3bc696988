"""Deleting identity rows together with everything that hangs off them, as Keystone does.

Deleting a project, user, group or domain also removes the role assignments, group
memberships, application credentials and EC2 credentials that refer to it, and records
the revocation events that end its tokens, all in the caller's transaction: either the
whole cascade commits or nothing does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity import revocation

A = m.Assignment


async def delete_projects(session: AsyncSession, project_ids: Sequence[str]) -> None:
    """Delete projects (leaves first is not needed: one statement removes them all)."""
    if not project_ids:
        return
    ids = list(project_ids)
    await session.execute(
        sa.delete(A).where(A.target_id.in_(ids), A.type.in_(("UserProject", "GroupProject")))
    )
    await session.execute(
        sa.delete(m.ApplicationCredential).where(m.ApplicationCredential.project_id.in_(ids))
    )
    await session.execute(sa.delete(m.Credential).where(m.Credential.project_id.in_(ids)))
    for pid in ids:
        await revocation.revoke_project(session, pid)
    await session.execute(sa.delete(m.Project).where(m.Project.id.in_(ids)))


async def delete_users(session: AsyncSession, user_ids: Sequence[str]) -> None:
    if not user_ids:
        return
    ids = list(user_ids)
    await session.execute(
        sa.delete(A).where(
            A.actor_id.in_(ids), A.type.in_(("UserProject", "UserDomain", "UserSystem"))
        )
    )
    await session.execute(sa.delete(m.GroupMember).where(m.GroupMember.user_id.in_(ids)))
    await session.execute(
        sa.delete(m.ApplicationCredential).where(m.ApplicationCredential.user_id.in_(ids))
    )
    await session.execute(sa.delete(m.Credential).where(m.Credential.user_id.in_(ids)))
    for uid in ids:
        await revocation.revoke_user(session, uid)
    await session.execute(sa.delete(m.User).where(m.User.id.in_(ids)))


async def delete_groups(session: AsyncSession, group_ids: Sequence[str]) -> None:
    if not group_ids:
        return
    ids = list(group_ids)
    await session.execute(
        sa.delete(A).where(
            A.actor_id.in_(ids), A.type.in_(("GroupProject", "GroupDomain", "GroupSystem"))
        )
    )
    await session.execute(sa.delete(m.GroupMember).where(m.GroupMember.group_id.in_(ids)))
    await session.execute(sa.delete(m.Group).where(m.Group.id.in_(ids)))


async def delete_role_rules(session: AsyncSession, role_ids: Sequence[str]) -> None:
    """Remove the implied-role rules a role takes part in, either side."""
    rule = m.ImpliedRole
    await session.execute(
        sa.delete(rule).where(
            sa.or_(rule.prior_role_id.in_(role_ids), rule.implied_role_id.in_(role_ids))
        )
    )


async def _ids(
    session: AsyncSession, column: sa.orm.InstrumentedAttribute[str], where: sa.ColumnElement[bool]
) -> list[str]:
    return list((await session.scalars(sa.select(column).where(where))).all())


async def delete_domain(session: AsyncSession, domain_id: str) -> None:
    """Delete a domain with its projects, users, groups, domain roles and grants on it."""
    await delete_projects(
        session, await _ids(session, m.Project.id, m.Project.domain_id == domain_id)
    )
    await delete_users(session, await _ids(session, m.User.id, m.User.domain_id == domain_id))
    await delete_groups(session, await _ids(session, m.Group.id, m.Group.domain_id == domain_id))
    await session.execute(
        sa.delete(A).where(A.target_id == domain_id, A.type.in_(("UserDomain", "GroupDomain")))
    )
    role_ids = await _ids(session, m.Role.id, m.Role.domain_id == domain_id)
    if role_ids:
        await session.execute(sa.delete(A).where(A.role_id.in_(role_ids)))
        await delete_role_rules(session, role_ids)
        await session.execute(sa.delete(m.Role).where(m.Role.id.in_(role_ids)))
    await revocation.revoke_domain(session, domain_id)
    await session.execute(sa.delete(m.Domain).where(m.Domain.id == domain_id))

"""Who sees what: a project sees its own resources, shared and external networks (and
the subnets of shared ones), and the ports on networks it owns; an admin sees all.

What a caller may not see does not exist for it (404). What it sees but does not own,
it may not change (403), as Neutron's default policy says.
"""

from __future__ import annotations

import sqlalchemy as sa

from stratus.common.asgi.policy import enforce
from stratus.common.context import RequestContext
from stratus.network import models as m


def networks(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    return sa.or_(m.Network.project_id == ctx.project_id, m.Network.shared, m.Network.external)


def subnets(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    shared = sa.select(m.Network.id).where(m.Network.shared)
    return sa.or_(m.Subnet.project_id == ctx.project_id, m.Subnet.network_id.in_(shared))


def ports(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    owned = sa.select(m.Network.id).where(m.Network.project_id == ctx.project_id)
    return sa.or_(m.Port.project_id == ctx.project_id, m.Port.network_id.in_(owned))


def security_groups(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    return m.SecurityGroup.project_id == ctx.project_id


def rules(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    own_groups = sa.select(m.SecurityGroup.id).where(m.SecurityGroup.project_id == ctx.project_id)
    return sa.or_(
        m.SecurityGroupRule.project_id == ctx.project_id,
        m.SecurityGroupRule.security_group_id.in_(own_groups),
    )


def routers(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    return m.Router.project_id == ctx.project_id


def floating_ips(ctx: RequestContext) -> sa.ColumnElement[bool]:
    if ctx.is_admin:
        return sa.true()
    return m.FloatingIp.project_id == ctx.project_id


def owns(ctx: RequestContext, project_id: str) -> bool:
    return ctx.is_admin or project_id == ctx.project_id


def check_owner(ctx: RequestContext, project_id: str, action: str) -> None:
    enforce(owns(ctx, project_id), action)

"""``/v3/system/{users,groups}/{id}/roles``: role grants on the system.

Keystone keeps grants on the deployment as a whole ("the system") beside project and
domain grants; tools such as tempest's dynamic credentials make them as a matter of
course. A token scoped to the system (``{"system": {"all": true}}``) carries the roles held
here; an ``admin`` there is a cloud administrator, a ``reader`` reads everything. Grants
go with their user, group or role. Only global roles can be granted on the system.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import InvalidInput, NotFound
from stratus.identity import lookup, views
from stratus.identity import models as m
from stratus.identity.state import base_url, state_of

routes = Routes("identity")
A = m.Assignment
Handler = Callable[[ApiRequest], Awaitable[Response]]


def _key(actor: str, req: ApiRequest) -> tuple[str, str, str, str, bool]:
    kind = m.SYSTEM_ASSIGNMENT_TYPES[actor]
    return (kind, req.params[f"{actor}_id"], m.SYSTEM_TARGET, req.params["role_id"], False)


async def _load(s: AsyncSession, actor: str, req: ApiRequest, *, actor_may_be_gone: bool) -> None:
    if not actor_may_be_gone:
        table = m.User if actor == "user" else m.Group
        await lookup.get(s, table, req.params[f"{actor}_id"], actor)
    role = await lookup.get(s, m.Role, req.params["role_id"], "role")
    if role.domain_id is not None:
        raise InvalidInput(
            "identity.role.domain_specific",
            f"Role {role.id} is a domain-specific role. Unable to use a domain-specific "
            f"role in a system assignment.",
        )


def _no_grant(actor: str, req: ApiRequest) -> NotFound:
    return NotFound(
        "identity.role_assignment.not_found",
        f"Could not find role assignment with role: {req.params['role_id']}, "
        f"user or group: {req.params[f'{actor}_id']}, project, domain, or system: system.",
    )


def _put(actor: str) -> Handler:
    async def grant(req: ApiRequest) -> Response:
        st = state_of(req)
        async with st.db.session() as s:
            await _load(s, actor, req, actor_may_be_gone=False)
            if await s.get(A, _key(actor, req)) is None:
                kind, actor_id, target, role_id, _ = _key(actor, req)
                s.add(A(type=kind, actor_id=actor_id, target_id=target, role_id=role_id))
                await lookup.flush(s, lookup.conflict("role assignment", "Duplicate entry"))
        st.changed()
        return Response(status_code=204)

    grant.__name__ = f"create_system_grant_for_{actor}"
    return grant


def _check(actor: str) -> Handler:
    async def check(req: ApiRequest) -> Response:
        async with state_of(req).db.session() as s:
            await _load(s, actor, req, actor_may_be_gone=False)
            if await s.get(A, _key(actor, req)) is None:
                raise _no_grant(actor, req)
        return Response(status_code=204)

    check.__name__ = f"check_system_grant_for_{actor}"
    return check


def _delete(actor: str) -> Handler:
    async def revoke(req: ApiRequest) -> Response:
        st = state_of(req)
        async with st.db.session() as s:
            await _load(s, actor, req, actor_may_be_gone=True)
            grant = await s.get(A, _key(actor, req))
            if grant is None:
                raise _no_grant(actor, req)
            await s.delete(grant)
        st.changed()
        return Response(status_code=204)

    revoke.__name__ = f"revoke_system_grant_for_{actor}"
    return revoke


def _list(actor: str) -> Handler:
    async def list_grants(req: ApiRequest) -> Response:
        actor_id = req.params[f"{actor}_id"]
        async with state_of(req).db.session() as s:
            await lookup.get(s, m.User if actor == "user" else m.Group, actor_id, actor)
            ids = sa.select(A.role_id).where(
                A.type == m.SYSTEM_ASSIGNMENT_TYPES[actor], A.actor_id == actor_id
            )
            query = sa.select(m.Role).where(m.Role.id.in_(ids)).order_by(m.Role.name)
            rows = await lookup.all_of(s, query)
        base = base_url(req)
        items = (views.role(base, r) for r in rows)
        return json_response(views.collection("roles", items, str(req.raw.url)))

    list_grants.__name__ = f"list_system_grants_for_{actor}"
    return list_grants


def _register() -> None:
    for actor in ("user", "group"):
        base = f"/v3/system/{actor}s/{{{actor}_id}}/roles"
        routes.route("GET", base, rule=ADMIN_OR_SYSTEM_READER)(_list(actor))
        routes.route("PUT", f"{base}/{{role_id}}", rule=ADMIN)(_put(actor))
        routes.route("GET", f"{base}/{{role_id}}", rule=ADMIN_OR_SYSTEM_READER)(_check(actor))
        routes.route("DELETE", f"{base}/{{role_id}}", rule=ADMIN)(_delete(actor))


_register()

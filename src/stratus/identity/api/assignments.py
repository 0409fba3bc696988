"""Role grants (users or groups by projects or domains, OS-INHERIT) and ``/v3/role_assignments``.

The sixteen grant routes differ only in which actor and target they name, so they are
registered from one table of variants instead of being written out sixteen times; each
variant still declares its access rule beside its handler. Grants are idempotent (PUT
twice is one grant). A grant change alters what existing tokens carry, so it clears the
validation cache; losing the last role on a project also deletes the user's application
credentials for that project, as Keystone does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, ADMIN_OR_SYSTEM_READER, AUTHENTICATED, enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import Forbidden, NotFound
from stratus.identity import lookup, revocation, role_assignments, views
from stratus.identity import models as m
from stratus.identity.effective_roles import scoped_role_ids
from stratus.identity.state import base_url, state_of

routes = Routes("identity")
A = m.Assignment


@dataclass(frozen=True)
class Variant:
    """One family of grant routes: which actor, which target, inherited or not."""

    actor: str  # "user" | "group"
    target: str  # "project" | "domain"
    inherited: bool

    @property
    def type(self) -> str:
        return self.actor.capitalize() + self.target.capitalize()

    @property
    def base(self) -> str:
        prefix = "/v3/OS-INHERIT" if self.inherited else "/v3"
        return (
            f"{prefix}/{self.target}s/{{{self.target}_id}}/{self.actor}s/{{{self.actor}_id}}/roles"
        )

    def member_path(self) -> str:
        suffix = "/inherited_to_projects" if self.inherited else ""
        return f"{self.base}/{{role_id}}{suffix}"

    def list_path(self) -> str:
        return f"{self.base}/inherited_to_projects" if self.inherited else self.base


_TABLES: dict[str, type[m.User] | type[m.Group] | type[m.Project] | type[m.Domain]] = {
    "user": m.User,
    "group": m.Group,
    "project": m.Project,
    "domain": m.Domain,
}


async def _target_domain(s: AsyncSession, v: Variant, req: ApiRequest) -> str:
    """Load the target (404 if unknown) and return the domain it lives in."""
    ident = req.params[f"{v.target}_id"]
    if v.target == "project":
        return (await lookup.get(s, m.Project, ident, "project")).domain_id
    return (await lookup.get(s, m.Domain, ident, "domain")).id


async def _load(s: AsyncSession, v: Variant, req: ApiRequest, *, actor_may_be_gone: bool) -> m.Role:
    domain_id = await _target_domain(s, v, req)
    actor_id = req.params[f"{v.actor}_id"]
    if not actor_may_be_gone:
        await lookup.get(s, _TABLES[v.actor], actor_id, v.actor)
    role = await lookup.get(s, m.Role, req.params["role_id"], "role")
    if role.domain_id is not None and role.domain_id != domain_id:
        raise Forbidden(
            "identity.role.domain_mismatch",
            f"Domain-specific role {role.id} of domain {role.domain_id} cannot be granted "
            f"outside that domain.",
        )
    return role


def _key(v: Variant, req: ApiRequest) -> tuple[str, str, str, str, bool]:
    return (
        v.type,
        req.params[f"{v.actor}_id"],
        req.params[f"{v.target}_id"],
        req.params["role_id"],
        v.inherited,
    )


def _no_grant(req: ApiRequest, v: Variant) -> NotFound:
    return NotFound(
        "identity.role_assignment.not_found",
        f"Could not find role assignment with role: {req.params['role_id']}, "
        f"user or group: {req.params[f'{v.actor}_id']}, "
        f"project, domain, or system: {req.params[f'{v.target}_id']}.",
    )


Handler = Callable[[ApiRequest], Awaitable[Response]]


def _put(v: Variant) -> Handler:
    async def grant(req: ApiRequest) -> Response:
        st = state_of(req)
        async with st.db.session() as s:
            await _load(s, v, req, actor_may_be_gone=False)
            if await s.get(A, _key(v, req)) is None:
                kind, actor, target, role_id, inherited = _key(v, req)
                s.add(
                    A(
                        type=kind,
                        actor_id=actor,
                        target_id=target,
                        role_id=role_id,
                        inherited=inherited,
                    )
                )
                await lookup.flush(s, lookup.conflict("role assignment", "Duplicate entry"))
        st.changed()
        return Response(status_code=204)

    grant.__doc__ = f"Grant a role to a {v.actor} on a {v.target}."
    return grant


def _check(v: Variant) -> Handler:
    async def check(req: ApiRequest) -> Response:
        async with state_of(req).db.session() as s:
            await _load(s, v, req, actor_may_be_gone=False)
            if await s.get(A, _key(v, req)) is None:
                raise _no_grant(req, v)
        return Response(status_code=204)

    return check


async def _drop_orphaned_app_creds(s: AsyncSession, user_id: str, project_id: str) -> bool:
    """Keystone deletes a user's application credentials on a project where the user no
    longer holds any role; return whether any went."""
    if await scoped_role_ids(s, user_id, project_id=project_id):
        return False
    owned = sa.select(m.ApplicationCredential).where(
        m.ApplicationCredential.user_id == user_id,
        m.ApplicationCredential.project_id == project_id,
    )
    creds = await lookup.all_of(s, owned)
    for ac in creds:
        await revocation.revoke_app_cred(s, ac.id)
        await s.delete(ac)
    return bool(creds)


def _delete(v: Variant) -> Handler:
    async def revoke(req: ApiRequest) -> Response:
        st = state_of(req)
        async with st.db.session() as s:
            await _load(s, v, req, actor_may_be_gone=True)
            grant = await s.get(A, _key(v, req))
            if grant is None:
                raise _no_grant(req, v)
            await s.delete(grant)
            await s.flush()
            if v.type == "UserProject" and not v.inherited:
                await _drop_orphaned_app_creds(s, grant.actor_id, grant.target_id)
        st.changed()
        return Response(status_code=204)

    return revoke


def _list(v: Variant) -> Handler:
    async def list_grants(req: ApiRequest) -> Response:
        async with state_of(req).db.session() as s:
            await _target_domain(s, v, req)
            await lookup.get(s, _TABLES[v.actor], req.params[f"{v.actor}_id"], v.actor)
            ids = sa.select(A.role_id).where(
                A.type == v.type,
                A.actor_id == req.params[f"{v.actor}_id"],
                A.target_id == req.params[f"{v.target}_id"],
                A.inherited.is_(v.inherited),
            )
            rows = await lookup.all_of(
                s, sa.select(m.Role).where(m.Role.id.in_(ids)).order_by(m.Role.name)
            )
        base = base_url(req)
        items = (views.role(base, r) for r in rows)
        return json_response(views.collection("roles", items, str(req.raw.url)))

    return list_grants


def _register() -> None:
    for actor in ("user", "group"):
        for target in ("project", "domain"):
            for inherited in (False, True):
                v = Variant(actor, target, inherited)
                member = v.member_path()
                routes.route("PUT", member, rule=ADMIN)(_put(v))
                routes.route("GET", member, rule=ADMIN_OR_SYSTEM_READER)(_check(v))
                routes.route("DELETE", member, rule=ADMIN)(_delete(v))
                if target == "domain" or not inherited:
                    routes.route("GET", v.list_path(), rule=ADMIN_OR_SYSTEM_READER)(_list(v))


_register()


@routes.route("GET", "/v3/role_assignments", rule=AUTHENTICATED)
async def list_role_assignments(req: ApiRequest) -> Response:
    """List grants (or effective roles); a non-admin may list only their own."""
    flt = role_assignments.Filters.from_query(req.query)
    own = flt.user_id is not None and flt.user_id == req.ctx.user_id
    enforce(req.ctx.is_admin or own, "identity:list_role_assignments")
    async with state_of(req).db.session() as s:
        items = await role_assignments.list_assignments(s, flt, base_url(req))
    return json_response(views.collection("role_assignments", items, str(req.raw.url)))

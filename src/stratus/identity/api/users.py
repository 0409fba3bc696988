"""``/v3/users``: CRUD, password change, and a user's groups and projects.

Passwords are hashed with Argon2id and never returned. Anything that changes what a
user's existing tokens stand for (disable, delete, a new password) records a revocation
event, as Keystone does; disabling also deletes the user's application credentials.
"""

from __future__ import annotations

import weakref
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import (
    ADMIN,
    ADMIN_OR_SYSTEM_READER,
    PUBLIC,
    SYSTEM_READER,
    param_is_own_user,
)
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import InvalidInput, Unauthenticated
from stratus.identity import cascade, lookup, revocation, views
from stratus.identity import fields as f
from stratus.identity import models as m
from stratus.identity.effective_roles import project_ids_of
from stratus.identity.passwords import PasswordHasher
from stratus.identity.state import IdentityState, base_url, state_of

routes = Routes("identity")
OWN = ADMIN | param_is_own_user()

Password = Annotated[str, StringConstraints(strict=True, max_length=4096)]
Email = Annotated[str, StringConstraints(strict=True, max_length=255)]


class UserOptions(BaseModel):
    """Keystone's user options; stored and returned, not all enforced."""

    model_config = f.STRICT
    ignore_change_password_upon_first_use: f.KsBool | None = None
    ignore_password_expiry: f.KsBool | None = None
    ignore_lockout_failure_attempts: f.KsBool | None = None
    lock_password: f.KsBool | None = None
    ignore_user_inactivity: f.KsBool | None = None
    multi_factor_auth_enabled: f.KsBool | None = None
    multi_factor_auth_rules: list[list[Annotated[str, StringConstraints(strict=True)]]] | None = (
        None
    )


class UserFields(BaseModel):
    model_config = f.EXTENSIBLE
    password: Password | None = None
    enabled: f.KsBool | None = None
    default_project_id: f.Id | None = None
    description: f.Description | None = None
    email: Email | None = None
    options: UserOptions | None = None


class UserCreate(UserFields):
    name: f.Name
    domain_id: f.Id | None = None


class UserUpdate(UserFields):
    name: f.Name | None = None
    domain_id: Any = None  # accepted only when unchanged


class CreateBody(BaseModel):
    model_config = f.STRICT
    user: UserCreate


class UpdateBody(BaseModel):
    model_config = f.STRICT
    user: UserUpdate


class PasswordChange(BaseModel):
    model_config = f.STRICT
    original_password: Annotated[str, StringConstraints(strict=True)]
    password: Password


class PasswordBody(BaseModel):
    model_config = f.STRICT
    user: PasswordChange


@routes.route("GET", "/v3/users", rule=ADMIN_OR_SYSTEM_READER)
async def list_users(req: ApiRequest) -> Response:
    """List users; filters ``name``, ``domain_id``, ``enabled``."""
    query = sa.select(m.User).order_by(m.User.name)
    query = lookup.where_equal(
        query, req.query, {"name": m.User.name, "domain_id": m.User.domain_id}
    )
    if (enabled := f.bool_filter(req.query.get("enabled"))) is not None:
        query = query.where(m.User.enabled.is_(enabled))
    async with state_of(req).db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("users", (views.user(base, u) for u in rows), str(req.raw.url))
    )


@routes.route("POST", "/v3/users", rule=ADMIN)
async def create_user(req: ApiRequest) -> Response:
    body = (await req.model(CreateBody)).user
    st = state_of(req)
    domain_id = body.domain_id or req.ctx.project_domain_id or req.ctx.domain_id or "default"
    hashed = await st.passwords.hash(body.password) if body.password is not None else None
    clash = lookup.duplicate_name("user", body.name, domain_id)
    async with st.db.session() as s:
        await lookup.get(s, m.Domain, domain_id, "domain")  # Keystone: 404
        same = sa.select(m.User).where(m.User.domain_id == domain_id, m.User.name == body.name)
        if await lookup.first(s, same):
            raise clash
        row = m.User(
            name=body.name,
            domain_id=domain_id,
            enabled=body.enabled is not False,
            default_project_id=body.default_project_id,
            password_hash=hashed,
            description=body.description or "",
            email=body.email,
            extra=f.extras(body.model_extra),
            options=f.merged_options({}, body.options),
        )
        s.add(row)
        await lookup.flush(s, clash)
    return json_response({"user": views.user(base_url(req), row)}, status=201)


@routes.route("GET", "/v3/users/{user_id}", rule=OWN | SYSTEM_READER)
async def get_user(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await lookup.get(s, m.User, req.params["user_id"], "user")
    return json_response({"user": views.user(base_url(req), row)})


async def _apply_update(s: AsyncSession, row: m.User, body: UserUpdate) -> None:
    sent = body.model_fields_set
    if "domain_id" in sent and body.domain_id != row.domain_id:
        raise InvalidInput("identity.user.domain_change", "Cannot update domain_id of a user.")
    if body.name is not None and body.name != row.name:
        same = sa.select(m.User).where(m.User.domain_id == row.domain_id, m.User.name == body.name)
        if await lookup.first(s, same):
            raise lookup.duplicate_name("user", body.name, row.domain_id)
        row.name = body.name
    if "default_project_id" in sent:
        row.default_project_id = body.default_project_id
    if "description" in sent:
        row.description = body.description or ""
    if "email" in sent:
        row.email = body.email
    row.options = f.merged_options(row.options, body.options)
    row.extra = {**row.extra, **f.extras(body.model_extra)}


@routes.route("PATCH", "/v3/users/{user_id}", rule=ADMIN)
async def update_user(req: ApiRequest) -> Response:
    """Update a user; disabling or a new password ends the user's tokens."""
    body = (await req.model(UpdateBody)).user
    f.check_update(body, req.params["user_id"])
    st = state_of(req)
    hashed = await st.passwords.hash(body.password) if body.password is not None else None
    async with st.db.session() as s:
        row = await lookup.get(s, m.User, req.params["user_id"], "user")
        await _apply_update(s, row, body)
        disabling = body.enabled is False and row.enabled
        if body.enabled is not None:
            row.enabled = body.enabled
        if "password" in body.model_fields_set:
            row.password_hash = hashed
        if disabling:
            await s.execute(
                sa.delete(m.ApplicationCredential).where(m.ApplicationCredential.user_id == row.id)
            )
        if disabling or "password" in body.model_fields_set:
            await revocation.revoke_user(s, row.id)
        await lookup.flush(s, lookup.duplicate_name("user", row.name, row.domain_id))
    st.changed()
    return json_response({"user": views.user(base_url(req), row)})


@routes.route("DELETE", "/v3/users/{user_id}", rule=ADMIN)
async def delete_user(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.User, req.params["user_id"], "user")
        await cascade.delete_users(s, [row.id])
    st.changed()
    return Response(status_code=204)


_NO_USER_SECRET = "stratus-no-such-user"


_stand_ins: weakref.WeakKeyDictionary[PasswordHasher, str] = weakref.WeakKeyDictionary()


async def _stand_in_hash(hasher: PasswordHasher) -> str:
    """A hash to verify against when there is no stored one (made once per hasher)."""
    cached = _stand_ins.get(hasher)
    if cached is None:
        cached = _stand_ins[hasher] = await hasher.hash(_NO_USER_SECRET)
    return cached


async def _check_original(st: IdentityState, user_id: str, original: str) -> None:
    """The caller proves who they are with the current password; any failure is one 401,
    and costs one hash verification, so timing does not say whether the user exists, is
    enabled or has a password."""
    async with st.db.session() as s:
        row = await s.get(m.User, user_id) if len(user_id) <= 64 else None
        stored = row.password_hash if row is not None and row.enabled else None
    ok = await st.passwords.verify(stored or await _stand_in_hash(st.passwords), original)
    if not stored or not ok:
        raise Unauthenticated(
            "identity.password.invalid",
            "Error when changing user password: Invalid user / password",
        )


@routes.route("POST", "/v3/users/{user_id}/password", rule=PUBLIC)
async def change_password(req: ApiRequest) -> Response:
    """Change one's own password, proven by the original one (no token needed, as in
    Keystone, so a user whose password expired can still set a new one)."""
    change = (await req.model(PasswordBody)).user
    st = state_of(req)
    user_id = req.params["user_id"]
    await _check_original(st, user_id, change.original_password)
    hashed = await st.passwords.hash(change.password)
    async with st.db.session() as s:
        row = await lookup.get(s, m.User, user_id, "user")
        row.password_hash = hashed
        await revocation.revoke_user(s, row.id)
    st.changed()
    return Response(status_code=204)


@routes.route("GET", "/v3/users/{user_id}/groups", rule=OWN | SYSTEM_READER)
async def list_user_groups(req: ApiRequest) -> Response:
    """Groups the user belongs to; filter ``name``."""
    query = (
        sa.select(m.Group)
        .join(m.GroupMember, m.GroupMember.group_id == m.Group.id)
        .where(m.GroupMember.user_id == req.params["user_id"])
        .order_by(m.Group.name)
    )
    query = lookup.where_equal(query, req.query, {"name": m.Group.name})
    async with state_of(req).db.session() as s:
        await lookup.get(s, m.User, req.params["user_id"], "user")
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("groups", (views.group(base, g) for g in rows), str(req.raw.url))
    )


@routes.route("GET", "/v3/users/{user_id}/projects", rule=OWN | SYSTEM_READER)
async def list_user_projects(req: ApiRequest) -> Response:
    """Projects where the user holds a role, directly, by group or inherited."""
    async with state_of(req).db.session() as s:
        user = await lookup.get(s, m.User, req.params["user_id"], "user")
        ids = await project_ids_of(s, user.id)
        query = sa.select(m.Project).where(m.Project.id.in_(ids)).order_by(m.Project.name)
        query = lookup.where_equal(
            query, req.query, {"name": m.Project.name, "domain_id": m.Project.domain_id}
        )
        if (enabled := f.bool_filter(req.query.get("enabled"))) is not None:
            query = query.where(m.Project.enabled.is_(enabled))
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    return json_response(
        views.collection("projects", (views.project(base, p) for p in rows), str(req.raw.url))
    )

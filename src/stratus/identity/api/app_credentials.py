"""``/v3/users/{user_id}/application_credentials``: create, list, show, delete.

An application credential lets a program act as its creator on one project with a
subset of the creator's roles, without the creator's password. The secret is shown once
and stored as an Argon2id hash. As in Keystone a credential can only be created by its
owner from a project-scoped token, never with roles the token does not carry, and a
token obtained from a *restricted* application credential can neither create nor delete
application credentials (so a leaked one cannot mint more).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, StringConstraints, model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import ADMIN, MEMBER, SYSTEM_READER, param_is_own_user
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden, InvalidInput
from stratus.identity import fields as f
from stratus.identity import lookup, revocation, views
from stratus.identity import models as m
from stratus.identity.effective_roles import scoped_role_ids
from stratus.identity.state import base_url, state_of

routes = Routes("identity")
OWN = ADMIN | param_is_own_user()
OWN_WRITE = ADMIN | (param_is_own_user() & MEMBER)
CREATE = param_is_own_user() & MEMBER

Secret = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=4096)]
Stamp = Annotated[str, StringConstraints(strict=True, max_length=64)]


class RoleSpec(BaseModel):
    """A role by id or by name (exactly one), as Keystone's schema requires."""

    model_config = f.STRICT
    id: f.Id | None = None
    name: f.Name | None = None

    @model_validator(mode="after")
    def one_key(self) -> RoleSpec:
        if (self.id is None) == (self.name is None):
            raise ValueError("give a role as {'id': ...} or {'name': ...}")
        return self


class AppCredCreate(BaseModel):
    model_config = f.EXTENSIBLE
    name: f.Name
    description: f.Description | None = None
    secret: Secret | None = None
    expires_at: Stamp | None = None
    roles: list[RoleSpec] | None = None
    unrestricted: f.KsBool = False
    access_rules: list[dict[str, Any]] | None = None


class CreateBody(BaseModel):
    model_config = f.STRICT
    application_credential: AppCredCreate


def _generate_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()


def _expiry(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "identity.app_cred.expires_at", f"Invalid expires_at {text!r}: ISO 8601 expected."
        ) from None
    when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    if when <= dt.datetime.now(dt.UTC):
        raise InvalidInput("identity.app_cred.expires_at", "expires_at must be in the future.")
    return when


async def forbid_delegated(s: AsyncSession, req: ApiRequest, *, app_creds: bool = True) -> None:
    """Refuse credential management to tokens that are themselves delegated credentials.

    A token from a restricted application credential may not manage application
    credentials, and a token minted from an EC2 key may not manage any credential:
    otherwise leaking one would leak a way to make more. (A restricted application
    credential may still create EC2 keys, as in Keystone: they are bound to its roles.)
    """
    ctx = req.ctx
    if app_creds and ctx.app_cred_id is not None:
        used = await s.get(m.ApplicationCredential, ctx.app_cred_id)
        if used is None or not used.unrestricted:
            raise Forbidden(
                "identity.app_cred.restricted",
                "You are not authorized to perform the requested action: Using method "
                "'application_credential' is not allowed for managing additional application "
                "credentials.",
            )
    if ctx.auth_token is not None:
        # The token was validated when this request was authenticated, and only its
        # methods matter here: read them from the token itself. Validating it again could
        # miss the cache and load it in another task, which would wait for the database
        # turn that this request's open transaction holds (a 503 after the busy timeout).
        payload = state_of(req).validator.tokens.decode(ctx.auth_token, allow_expired=True)
        if "ec2credential" in payload.methods:
            raise Forbidden(
                "identity.credential.delegated",
                "You are not authorized to perform the requested action: a token obtained "
                "with an EC2 credential cannot manage credentials.",
            )


async def _token_roles(s: AsyncSession, ctx: RequestContext, project_id: str) -> list[m.Role]:
    """The roles the caller's token carries on its project, as rows."""
    held = await scoped_role_ids(s, str(ctx.user_id), project_id=project_id)
    rows = await lookup.all_of(s, sa.select(m.Role).where(m.Role.id.in_(held)))
    return [r for r in rows if r.name in ctx.roles]


async def _chosen_roles(
    s: AsyncSession, specs: list[RoleSpec] | None, carried: list[m.Role]
) -> list[m.Role]:
    if not specs:
        return carried
    by_id = {r.id: r for r in carried}
    chosen: dict[str, m.Role] = {}
    for spec in specs:
        if spec.id is not None:
            role = by_id.get(spec.id) or await lookup.get(s, m.Role, spec.id, "role")
        else:
            named = sa.select(m.Role).where(
                m.Role.name == spec.name, m.Role.domain_key == m.GLOBAL_DOMAIN_KEY
            )
            found = await lookup.first(s, named)
            if found is None:
                raise lookup.not_found("role", str(spec.name))
            role = found
        if role.id not in by_id:
            raise InvalidInput(
                "identity.app_cred.unassigned_role",
                "Invalid application credential: Cannot create an application credential "
                "with unassigned role",
            )
        chosen[role.id] = role
    return list(chosen.values())


async def _roles_of(s: AsyncSession, role_ids: list[str]) -> list[m.Role]:
    rows = await lookup.all_of(s, sa.select(m.Role).where(m.Role.id.in_(role_ids)))
    return sorted(rows, key=lambda r: r.name)


@routes.route("POST", "/v3/users/{user_id}/application_credentials", rule=CREATE)
async def create_app_cred(req: ApiRequest) -> Response:
    body = (await req.model(CreateBody)).application_credential
    if body.access_rules:
        raise InvalidInput("identity.app_cred.access_rules", "Access rules are not supported.")
    project_id = req.ctx.project_id
    if project_id is None:
        raise Forbidden(
            "identity.app_cred.unscoped",
            "Application credentials can only be created with a project-scoped token.",
        )
    expires_at = _expiry(body.expires_at)
    st = state_of(req)
    secret = body.secret or _generate_secret()
    hashed = await st.passwords.hash(secret)
    clash = lookup.conflict(
        "application_credential", f"Duplicate entry found with name {body.name}"
    )
    async with st.db.session() as s:
        await forbid_delegated(s, req)
        roles = await _chosen_roles(s, body.roles, await _token_roles(s, req.ctx, project_id))
        same = sa.select(m.ApplicationCredential).where(
            m.ApplicationCredential.user_id == req.params["user_id"],
            m.ApplicationCredential.name == body.name,
        )
        if await lookup.first(s, same):
            raise clash
        row = m.ApplicationCredential(
            name=body.name,
            user_id=req.params["user_id"],
            project_id=project_id,
            secret_hash=hashed,
            description=body.description or "",
            expires_at=expires_at,
            unrestricted=body.unrestricted,
            role_ids=[r.id for r in roles],
        )
        s.add(row)
        await lookup.flush(s, clash)
    out = views.app_credential(base_url(req), row, roles, secret=secret)
    return json_response({"application_credential": out}, status=201)


@routes.route("GET", "/v3/users/{user_id}/application_credentials", rule=OWN | SYSTEM_READER)
async def list_app_creds(req: ApiRequest) -> Response:
    """A user's application credentials; filter ``name``."""
    query = sa.select(m.ApplicationCredential).where(
        m.ApplicationCredential.user_id == req.params["user_id"]
    )
    query = lookup.where_equal(query, req.query, {"name": m.ApplicationCredential.name})
    base = base_url(req)
    async with state_of(req).db.session() as s:
        await lookup.get(s, m.User, req.params["user_id"], "user")
        rows = await lookup.all_of(s, query.order_by(m.ApplicationCredential.name))
        items = [views.app_credential(base, ac, await _roles_of(s, ac.role_ids)) for ac in rows]
    return json_response(views.collection("application_credentials", items, str(req.raw.url)))


async def _owned(s: AsyncSession, req: ApiRequest) -> m.ApplicationCredential:
    """The credential named in the path, and only if it belongs to the user in the path
    (otherwise anyone could reach any credential by putting their own id in the URL)."""
    ident = req.params["app_cred_id"]
    row = await lookup.get(s, m.ApplicationCredential, ident, "application_credential")
    if row.user_id != req.params["user_id"]:
        raise lookup.not_found("application_credential", ident)
    return row


MEMBER_PATH = "/v3/users/{user_id}/application_credentials/{app_cred_id}"


@routes.route("GET", MEMBER_PATH, rule=OWN | SYSTEM_READER)
async def get_app_cred(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        row = await _owned(s, req)
        roles = await _roles_of(s, row.role_ids)
    return json_response(
        {"application_credential": views.app_credential(base_url(req), row, roles)}
    )


@routes.route("DELETE", MEMBER_PATH, rule=OWN_WRITE)
async def delete_app_cred(req: ApiRequest) -> Response:
    """Delete an application credential; tokens obtained with it stop working."""
    st = state_of(req)
    async with st.db.session() as s:
        await forbid_delegated(s, req)
        row = await _owned(s, req)
        await revocation.revoke_app_cred(s, row.id)
        await s.delete(row)
    st.changed()
    return Response(status_code=204)

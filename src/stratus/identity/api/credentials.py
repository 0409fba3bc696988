"""``/v3/credentials`` and the EC2 view of them, ``/v3/users/{id}/credentials/OS-EC2``.

Blobs are stored encrypted (``CredentialCrypto``). An ``ec2`` credential's blob is JSON
holding ``access`` and ``secret``; its id is the SHA-256 of the access key, as in Keystone,
so ``/v3/ec2tokens`` finds it from the access key alone. Users manage their own
credentials (members only: a reader changes nothing); administrators manage everyone's.
A non-admin can only bind an EC2 credential to a project where they hold a role, so a
credential can never reach a project its owner cannot.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import (
    ADMIN,
    AUTHENTICATED,
    MEMBER,
    SYSTEM_READER,
    enforce,
    param_is_own_user,
)
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.context import RequestContext
from stratus.common.errors import InvalidInput
from stratus.identity import fields as f
from stratus.identity import lookup, views
from stratus.identity import models as m
from stratus.identity.api.app_credentials import forbid_delegated
from stratus.identity.effective_roles import scoped_role_ids
from stratus.identity.state import IdentityState, base_url, state_of

routes = Routes("identity")
EC2 = "ec2"
MAX_ACCESS = 255  # the access key column
BOUND_KEYS = ("app_cred_id", "trust_id", "access_token_id")

Blob = Annotated[str, StringConstraints(strict=True, max_length=65535)]
CredType = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=255)]


class CredentialFields(BaseModel):
    model_config = f.EXTENSIBLE
    user_id: f.Id | None = None
    project_id: f.Id | None = None
    type: CredType | None = None
    blob: Blob | None = None


class CredentialBody(BaseModel):
    model_config = f.STRICT
    credential: CredentialFields


class Ec2CreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tenant_id: f.Id


async def find_ec2(s: AsyncSession, access: str) -> m.Credential | None:
    """The credential holding EC2 access key ``access`` (it may differ from the one whose
    hash became the id, since an update may change the key)."""
    query = sa.select(m.Credential).where(m.Credential.access_key == access)
    return await lookup.first(s, query)


def access_id(access: str) -> str:
    """The credential id of an EC2 access key (Keystone's ``hash_access_key``)."""
    return hashlib.sha256(access.encode()).hexdigest()


def _ec2_blob(blob: str) -> dict[str, Any]:
    try:
        parsed = json.loads(blob)
    except json.JSONDecodeError:
        parsed = None
    if (
        not isinstance(parsed, dict)
        or not isinstance(parsed.get("access"), str)
        or not 0 < len(parsed["access"]) <= MAX_ACCESS
    ):
        raise InvalidInput(
            "identity.credential.blob",
            "Invalid blob in credential: an ec2 blob is a JSON object with an 'access' key.",
        )
    return parsed


def _bindings(blob: str) -> dict[str, Any]:
    """The delegation keys of a stored blob (empty if it is not a JSON object)."""
    try:
        parsed = json.loads(blob)
    except json.JSONDecodeError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: parsed.get(k) for k in BOUND_KEYS}


def _keep_bindings(old_blob: str, new_blob: str) -> None:
    """Keystone's rule: an update may not change or drop what a credential is bound to
    (otherwise a token of a restricted application credential could unbind the EC2 key it
    made, and get tokens with all of its user's roles). Checked whatever the type says, so
    a detour through another type cannot drop the binding either."""
    before, after = _bindings(old_blob), _bindings(new_blob)
    for key in BOUND_KEYS:
        if before[key] is not None and before[key] != after[key]:
            raise InvalidInput(
                "identity.credential.bound", f"{key} can not be updated for credential."
            )


async def _check_project(
    s: AsyncSession, ctx: RequestContext, user_id: str, project_id: str
) -> None:
    """Admins may bind any existing project; others only one where the owner has a role."""
    await lookup.referenced(s, m.Project, project_id, "project")
    if not ctx.is_admin:
        held = await scoped_role_ids(s, user_id, project_id=project_id)
        enforce(bool(held), "identity:ec2_create_credential")


def _may_touch(ctx: RequestContext, row: m.Credential, action: str) -> None:
    enforce(ctx.is_admin or row.user_id == ctx.user_id, action)


def _plain(st: IdentityState, row: m.Credential) -> str:
    return st.credentials.decrypt(row.encrypted_blob)


# ---- /v3/credentials -----------------------------------------------------------------


@routes.route("GET", "/v3/credentials", rule=AUTHENTICATED)
async def list_credentials(req: ApiRequest) -> Response:
    """List credentials (a non-admin sees only their own); filters ``user_id``, ``type``."""
    query = sa.select(m.Credential).order_by(m.Credential.id)
    if not req.ctx.is_admin:
        query = query.where(m.Credential.user_id == req.ctx.user_id)
    query = lookup.where_equal(query, req.query, {"user_id": m.Credential.user_id})
    if (kind := req.query.get("type")) is not None:
        query = query.where(m.Credential.type == kind)
    st = state_of(req)
    async with st.db.session() as s:
        rows = await lookup.all_of(s, query)
    base = base_url(req)
    items = (views.credential(base, c, _plain(st, c)) for c in rows)
    return json_response(views.collection("credentials", items, str(req.raw.url)))


@routes.route("POST", "/v3/credentials", rule=MEMBER)
async def create_credential(req: ApiRequest) -> Response:
    body = (await req.model(CredentialBody)).credential
    missing = [n for n in ("user_id", "type", "blob") if getattr(body, n) is None]
    if missing:
        raise InvalidInput("request.invalid", f"'{missing[0]}' is a required property.")
    user_id, blob = str(body.user_id), str(body.blob)
    enforce(req.ctx.is_admin or user_id == req.ctx.user_id, "identity:create_credential")
    access = None
    if body.type == EC2:
        if body.project_id is None:
            raise InvalidInput(
                "identity.credential.project", "An ec2 credential needs a project_id."
            )
        parsed = _ec2_blob(blob)
        if req.ctx.app_cred_id is not None:  # bind it to the app credential's roles
            parsed["app_cred_id"] = req.ctx.app_cred_id
            blob = json.dumps(parsed)
        access = str(parsed["access"])
    st = state_of(req)
    ident = access_id(access) if access is not None else uuid.uuid4().hex
    clash = lookup.conflict("credential", f"Duplicate ID, {ident}")
    async with st.db.session() as s:
        await forbid_delegated(s, req, app_creds=False)
        await lookup.referenced(s, m.User, user_id, "user")
        if body.project_id is not None:
            await _check_project(s, req.ctx, user_id, body.project_id)
        if await s.get(m.Credential, ident) is not None:
            raise clash
        row = m.Credential(
            id=ident,
            user_id=user_id,
            project_id=body.project_id,
            type=body.type,
            encrypted_blob=st.credentials.encrypt(blob),
            access_key=access,
            extra=f.extras(body.model_extra),
        )
        s.add(row)
        await lookup.flush(s, clash)
    return json_response({"credential": views.credential(base_url(req), row, blob)}, status=201)


@routes.route("GET", "/v3/credentials/{credential_id}", rule=AUTHENTICATED)
async def get_credential(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        row = await lookup.get(s, m.Credential, req.params["credential_id"], "credential")
    _may_touch(req.ctx, row, "identity:get_credential")
    return json_response({"credential": views.credential(base_url(req), row, _plain(st, row))})


async def _apply_update(
    s: AsyncSession, req: ApiRequest, row: m.Credential, body: CredentialFields
) -> str:
    """Apply an update and return the new plain blob."""
    st = state_of(req)
    if body.user_id is not None and body.user_id != row.user_id:
        enforce(req.ctx.is_admin, "identity:update_credential")
        row.user_id = (await lookup.referenced(s, m.User, body.user_id, "user")).id
    if "project_id" in body.model_fields_set:
        if body.project_id is not None:
            await _check_project(s, req.ctx, row.user_id, body.project_id)
        row.project_id = body.project_id
    row.type = body.type or row.type
    blob = _plain(st, row)
    if body.blob is not None:
        _keep_bindings(blob, body.blob)
        blob = body.blob
    if row.type == EC2:
        if row.project_id is None:
            raise InvalidInput(
                "identity.credential.project", "An ec2 credential needs a project_id."
            )
        access = str(_ec2_blob(blob)["access"])
        if access != row.access_key and await find_ec2(s, access) is not None:
            raise lookup.conflict("credential", f"Duplicate access key {access}")
        row.access_key = access  # the id keeps the first key's hash, as in Keystone
    row.encrypted_blob = st.credentials.encrypt(blob)
    row.extra = {**row.extra, **f.extras(body.model_extra)}
    return blob


@routes.route("PATCH", "/v3/credentials/{credential_id}", rule=MEMBER)
async def update_credential(req: ApiRequest) -> Response:
    body = (await req.model(CredentialBody)).credential
    f.check_update(body, req.params["credential_id"])
    async with state_of(req).db.session() as s:
        await forbid_delegated(s, req, app_creds=False)
        row = await lookup.get(s, m.Credential, req.params["credential_id"], "credential")
        _may_touch(req.ctx, row, "identity:update_credential")
        blob = await _apply_update(s, req, row, body)
    return json_response({"credential": views.credential(base_url(req), row, blob)})


@routes.route("DELETE", "/v3/credentials/{credential_id}", rule=MEMBER)
async def delete_credential(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        await forbid_delegated(s, req, app_creds=False)
        row = await lookup.get(s, m.Credential, req.params["credential_id"], "credential")
        _may_touch(req.ctx, row, "identity:delete_credential")
        await s.delete(row)
    return Response(status_code=204)


# ---- OS-EC2 --------------------------------------------------------------------------

EC2_PATH = "/v3/users/{user_id}/credentials/OS-EC2"
OWN = ADMIN | param_is_own_user()
OWN_WRITE = ADMIN | (param_is_own_user() & MEMBER)


def _ec2_view(st: IdentityState, base: str, row: m.Credential) -> views.Json:
    return views.ec2_credential(base, row, _ec2_blob(_plain(st, row)))


@routes.route("GET", EC2_PATH, rule=OWN | SYSTEM_READER)
async def list_ec2(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        user = await lookup.get(s, m.User, req.params["user_id"], "user")
        mine = sa.select(m.Credential).where(
            m.Credential.user_id == user.id, m.Credential.type == EC2
        )
        rows = await lookup.all_of(s, mine.order_by(m.Credential.id))
    base = base_url(req)
    items = (_ec2_view(st, base, c) for c in rows)
    return json_response(views.collection("credentials", items, str(req.raw.url)))


@routes.route("POST", EC2_PATH, rule=OWN_WRITE)
async def create_ec2(req: ApiRequest) -> Response:
    """Create an access/secret pair for a project; the secret is returned in the clear."""
    project_id = (await req.model(Ec2CreateBody)).tenant_id
    st = state_of(req)
    blob: dict[str, Any] = {
        "access": uuid.uuid4().hex,
        "secret": uuid.uuid4().hex,
        "trust_id": None,
    }
    if req.ctx.app_cred_id is not None:
        blob["app_cred_id"] = req.ctx.app_cred_id
    async with st.db.session() as s:
        await forbid_delegated(s, req, app_creds=False)
        user = await lookup.get(s, m.User, req.params["user_id"], "user")
        if await s.get(m.Project, project_id) is None:
            raise lookup.not_found("project", project_id)
        await _check_project(s, req.ctx, user.id, project_id)
        row = m.Credential(
            id=access_id(blob["access"]),
            user_id=user.id,
            project_id=project_id,
            type=EC2,
            encrypted_blob=st.credentials.encrypt(json.dumps(blob)),
            access_key=blob["access"],
            extra={},
        )
        s.add(row)
        await lookup.flush(s, lookup.conflict("credential", "Duplicate access key"))
    return json_response({"credential": views.ec2_credential(base_url(req), row, blob)}, status=201)


async def _ec2_of(s: AsyncSession, req: ApiRequest) -> m.Credential:
    """The EC2 credential named by its access key, only under its owner's path."""
    await lookup.get(s, m.User, req.params["user_id"], "user")
    access = req.params["access"]
    row = await find_ec2(s, access)
    if row is None or row.type != EC2 or row.user_id != req.params["user_id"]:
        raise lookup.not_found("credential", access)
    return row


@routes.route("GET", EC2_PATH + "/{access}", rule=OWN | SYSTEM_READER)
async def get_ec2(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        row = await _ec2_of(s, req)
    return json_response({"credential": _ec2_view(st, base_url(req), row)})


@routes.route("DELETE", EC2_PATH + "/{access}", rule=OWN_WRITE)
async def delete_ec2(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        await forbid_delegated(s, req, app_creds=False)
        await s.delete(await _ec2_of(s, req))
    return Response(status_code=204)

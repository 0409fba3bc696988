"""``/os-keypairs``: a user's key pairs (create or import, list, show, delete).

Key pairs belong to users, not projects: one user's pairs are invisible to every other
user. An admin may name another user with ``user_id`` (2.10). Creating without a public
key returns the generated private key once; it is never stored.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import Conflict, NotFound, OverQuota
from stratus.compute import keys
from stratus.compute.api.common import READ, WRITE, bad, body_of, check_unknown, page_limit
from stratus.compute.api.common import next_link as page_link
from stratus.compute.api.microversion import since
from stratus.compute.api.quotas import limits_of
from stratus.compute.api.state import state_of
from stratus.compute.models import KeyPair

routes = Routes("os_compute_api")
_NAME = re.compile(r"^[a-zA-Z0-9 _-]+$")


def _user(req: ApiRequest, given: Any = None) -> str:
    """Whose key pairs: the caller's, or (admin, 2.10) the one named."""
    wanted = given if given is not None else req.query.get("user_id")
    if wanted is None or not since(req, 10):
        assert req.ctx.user_id is not None
        return req.ctx.user_id
    if not isinstance(wanted, str) or not wanted:
        raise bad(f"Invalid input for field/attribute user_id. Value: {wanted}.")
    if wanted != req.ctx.user_id and not req.ctx.is_admin:
        raise NotFound("compute.keypair.user", "Keypair not found for the given user")
    return wanted


def view(req: ApiRequest, kp: KeyPair, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": kp.name,
        "public_key": kp.public_key,
        "fingerprint": kp.fingerprint,
    }
    if since(req, 2):
        out["type"] = kp.type
    if full:
        out.update(
            {
                "user_id": kp.user_id,
                "id": kp.id,
                "created_at": kp.created_at,
                "deleted": False,
                "deleted_at": None,
                "updated_at": None,
            }
        )
    return out


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise bad(f"Invalid input for field/attribute name. Value: {name}.")
    if not _NAME.match(name):
        raise keys.invalid("Keypair name contains unsafe characters")
    return name


def _material(kind: str, public: Any, name: str) -> tuple[str | None, str, str]:
    """(private key or None, public key, fingerprint)."""
    if public is None:
        if kind != "ssh":
            raise bad("Generating x509 key pairs is not supported; import a certificate.")
        return keys.generate(f"Generated-by-Stratus {name}")
    if not isinstance(public, str) or not public.strip():
        raise bad("Invalid input for field/attribute public_key.")
    fingerprint = keys.ssh_fingerprint(public) if kind == "ssh" else keys.x509_fingerprint(public)
    return None, public.strip(), fingerprint


async def _check_quota(req: ApiRequest, s: AsyncSession, user_id: str) -> None:
    limit = (await limits_of(state_of(req), s, req.ctx.project_id or ""))["key_pairs"]
    count = await s.scalar(sa.select(sa.func.count()).where(KeyPair.user_id == user_id))
    if limit >= 0 and (count or 0) >= limit:
        raise OverQuota("compute.quota.key_pairs", "Quota exceeded, too many key pairs.")


@routes.route("POST", "/v2.1/os-keypairs", rule=WRITE)
async def create_keypair(req: ApiRequest) -> Response:
    body = await body_of(req, "keypair")
    allowed = {"name", "public_key"} | ({"type"} if since(req, 2) else set())
    check_unknown(body, allowed | ({"user_id"} if since(req, 10) else set()), "keypair")
    name = _check_name(body.get("name"))
    kind = body.get("type", "ssh")
    if kind not in ("ssh", "x509"):
        raise bad(f"Invalid input for field/attribute type. Value: {kind}.")
    user_id = _user(req, body.get("user_id"))
    private, public, fingerprint = _material(kind, body.get("public_key"), name)
    kp = KeyPair(user_id=user_id, name=name, type=kind, public_key=public, fingerprint=fingerprint)
    try:
        async with state_of(req).db.session() as s:
            await _check_quota(req, s, user_id)
            s.add(kp)
    except IntegrityError:
        raise Conflict("compute.keypair.exists", f"Key pair '{name}' already exists.") from None
    out = view(req, kp, full=False) | {"user_id": user_id}
    if private is not None:
        out["private_key"] = private
    return json_response({"keypair": out}, status=201 if since(req, 2) else 200)


@routes.route("GET", "/v2.1/os-keypairs", rule=READ)
async def list_keypairs(req: ApiRequest) -> Response:
    user_id = _user(req)
    query = sa.select(KeyPair).where(KeyPair.user_id == user_id).order_by(KeyPair.name)
    paged = since(req, 35)
    limit = page_limit(req, state_of(req).settings.max_list_limit) if paged else None
    marker = req.query.get("marker") if paged else None
    async with state_of(req).db.session() as s:
        if marker is not None:
            if await _find(s, user_id, marker) is None:
                raise bad(f"marker [{marker}] not found")
            query = query.where(KeyPair.name > marker)
        pairs = list((await s.scalars(query.limit(limit + 1 if limit else None))).all())
    more = limit is not None and len(pairs) > limit
    pairs = pairs[:limit] if limit is not None else pairs
    body: dict[str, Any] = {"keypairs": [{"keypair": view(req, k, full=False)} for k in pairs]}
    if more:
        body["keypairs_links"] = [page_link(req, "os-keypairs", pairs[-1].name)]
    return json_response(body)


async def _find(s: AsyncSession, user_id: str, name: str) -> KeyPair | None:
    found: KeyPair | None = await s.scalar(
        sa.select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)
    )
    return found


async def _load(req: ApiRequest, s: AsyncSession) -> KeyPair:
    name = req.params["name"]
    kp = await _find(s, _user(req), name)
    if kp is None:
        raise NotFound(
            "compute.keypair.not_found", f"Keypair {name} not found for user {_user(req)}"
        )
    return kp


@routes.route("GET", "/v2.1/os-keypairs/{name}", rule=READ)
async def show_keypair(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        kp = await _load(req, s)
    return json_response({"keypair": view(req, kp, full=True)})


@routes.route("DELETE", "/v2.1/os-keypairs/{name}", rule=WRITE)
async def delete_keypair(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        await s.delete(await _load(req, s))
    return Response(status_code=204 if since(req, 2) else 202)

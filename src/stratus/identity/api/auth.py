"""``/v3/auth/tokens``: issue, validate and revoke tokens (the caller's scopes: ``auth_scopes``).

Issuing is three steps: the methods name a user (``password``, ``token``,
``application_credential``), the scope is resolved (asked for, the credential's project,
the user's default project, or none), and the validator says what that grants, refusing a
scope without roles. A failed credential is always the same 401, whether or not the user
exists, and costs the same hash verification.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import AUTHENTICATED, PUBLIC, enforce
from stratus.common.asgi.routing import ApiRequest, Routes
from stratus.common.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from stratus.identity import effective_roles, revocation
from stratus.identity.fields import flag
from stratus.identity.grants import ValidatedToken, refused
from stratus.identity.models import ApplicationCredential, Domain, Project, User
from stratus.identity.passwords import PasswordHasher
from stratus.identity.state import IdentityState, state_of
from stratus.identity.tokens import AUTH_REQUIRED, TokenPayload

routes = Routes("identity")

SUPPORTED = ("password", "token", "application_credential")
SUBJECT = "X-Subject-Token"


class DomainRef(BaseModel):
    id: str | None = None
    name: str | None = None


class UserRef(BaseModel):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None
    password: str | None = None


class PasswordMethod(BaseModel):
    user: UserRef


class TokenMethod(BaseModel):
    id: str


class AppCredMethod(BaseModel):
    id: str | None = None
    name: str | None = None
    secret: str
    user: UserRef | None = None


class Identity(BaseModel):
    methods: list[str] = Field(min_length=1)
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: AppCredMethod | None = None


class ProjectRef(BaseModel):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class ScopeRef(BaseModel):
    project: ProjectRef | None = None
    domain: DomainRef | None = None
    system: dict[str, object] | None = None


class Auth(BaseModel):
    identity: Identity
    scope: ScopeRef | Literal["unscoped"] | None = None


class AuthRequest(BaseModel):
    auth: Auth


@dataclass
class Identified:
    """Who the methods proved, and what limits the token inherits from them."""

    user_id: str
    methods: list[str]
    default_project_id: str | None = None
    parent: TokenPayload | None = None
    app_cred: ApplicationCredential | None = None


def bad_credentials() -> Unauthenticated:
    return Unauthenticated("identity.auth.failed", AUTH_REQUIRED)


def _flag(req: ApiRequest, name: str) -> bool:
    return flag(req.query.get(name))


def _token_response(validated: ValidatedToken, token: str, status: int, catalog: bool) -> Response:
    return Response(
        validated.json(include_catalog=catalog),
        status_code=status,
        headers={SUBJECT: token},
        media_type="application/json",
    )


@routes.route("POST", "/v3/auth/tokens", rule=PUBLIC)
async def post_tokens(req: ApiRequest) -> Response:
    auth = (await req.model(AuthRequest)).auth
    token, validated = await issue_token(state_of(req), auth)
    return _token_response(validated, token, 201, not _flag(req, "nocatalog"))


async def issue_token(st: IdentityState, auth: Auth) -> tuple[str, ValidatedToken]:
    """Authenticate ``auth`` and issue its token: ``POST /v3/auth/tokens`` and the
    ``identity.issue_token`` RPC share this, so both refuse and grant exactly alike."""
    who = await _identify(st, auth.identity)
    async with st.db.session() as session:
        project_id, domain_id, system = await _scope(session, auth.scope, who)
    if who.parent is not None and who.parent.system and (project_id or domain_id):
        raise Forbidden(
            "identity.auth.system_rescope",
            "Using a system-scoped token to create a project-scoped or domain-scoped "
            "token is not allowed.",
        )
    payload = st.tokens.new_payload(
        who.user_id,
        who.methods,
        project_id=project_id,
        domain_id=domain_id,
        system=system,
        app_cred_id=who.app_cred.id if who.app_cred else None,
        parent=who.parent,
        not_after=who.app_cred.expires_at if who.app_cred else None,
    )
    validated = await st.validator.describe(payload)
    token = st.tokens.issue(payload)
    st.validator.remember(token, validated)
    return token, validated


async def _identify(st: IdentityState, identity: Identity) -> Identified:
    """Run every listed method; all must name the same user (Keystone's multi-method rule)."""
    found: Identified | None = None
    for method in dict.fromkeys(identity.methods):
        if method not in SUPPORTED:
            raise Unauthenticated(
                "identity.auth.unsupported_method",
                "Attempted to authenticate with an unsupported method.",
            )
        if getattr(identity, method) is None:
            raise InvalidInput(
                "identity.auth.missing_method", f"Expecting to find {method} in identity."
            )
        step = await _METHODS[method](st, identity)
        if found is not None and (found.user_id != step.user_id or step.app_cred or found.app_cred):
            raise bad_credentials()
        found = step if found is None else _merge(found, step)
    assert found is not None
    return found


def _merge(first: Identified, second: Identified) -> Identified:
    return Identified(
        first.user_id,
        [*first.methods, *second.methods],
        first.default_project_id or second.default_project_id,
        first.parent or second.parent,
    )


async def _by_password(st: IdentityState, identity: Identity) -> Identified:
    assert identity.password is not None
    ref = identity.password.user
    async with st.db.session() as session:
        user = await _find_user(session, ref)
    ok = await _verify(st.passwords, user.password_hash if user else None, ref.password or "")
    if user is None or not ok or not user.enabled:
        raise bad_credentials()
    expiry = user.password_expires_at
    if expiry is not None and expiry <= dt.datetime.now(dt.UTC):
        raise Unauthenticated(
            "identity.password.expired",
            f"The password is expired and needs to be changed for user: {user.id}.",
        )
    return Identified(user.id, ["password"], user.default_project_id)


async def _by_token(st: IdentityState, identity: Identity) -> Identified:
    assert identity.token is not None
    parent = (await st.validator.validate(identity.token.id)).payload
    app_cred = None
    if parent.app_cred_id is not None:
        async with st.db.session() as session:
            app_cred = await session.get(ApplicationCredential, parent.app_cred_id)
        if app_cred is None:
            raise bad_credentials()
    async with st.db.session() as session:
        user = await session.get(User, parent.user_id)
    default = user.default_project_id if user else None
    return Identified(parent.user_id, [*parent.methods, "token"], default, parent, app_cred)


async def _by_app_cred(st: IdentityState, identity: Identity) -> Identified:
    ref = identity.application_credential
    assert ref is not None
    async with st.db.session() as session:
        cred = await _find_app_cred(session, ref)
    ok = await _verify(st.passwords, cred.secret_hash if cred else None, ref.secret)
    if cred is None or not ok:
        raise bad_credentials()
    if cred.expires_at is not None and cred.expires_at <= dt.datetime.now(dt.UTC):
        raise refused("identity.app_cred.expired")
    return Identified(cred.user_id, ["application_credential"], app_cred=cred)


_METHODS = {
    "password": _by_password,
    "token": _by_token,
    "application_credential": _by_app_cred,
}

_dummy_hashes: weakref.WeakKeyDictionary[PasswordHasher, str] = weakref.WeakKeyDictionary()


async def _verify(hasher: PasswordHasher, stored: str | None, secret: str) -> bool:
    """Verify, against a throw-away hash when there is no stored one, so a missing user or
    credential takes as long to refuse as a wrong password."""
    if stored:
        return await hasher.verify(stored, secret)
    dummy = _dummy_hashes.get(hasher)
    if dummy is None:
        dummy = _dummy_hashes[hasher] = await hasher.hash("stratus-no-such-user")
    await hasher.verify(dummy, secret)
    return False


async def _find_user(session: AsyncSession, ref: UserRef) -> User | None:
    if ref.id is not None:
        return await session.get(User, ref.id)
    if ref.name is None:
        raise InvalidInput("identity.auth.no_user", "Expecting to find id or name in user.")
    if ref.domain is None:
        raise InvalidInput("identity.auth.no_domain", "Expecting to find domain in user.")
    domain_id = await _domain_id(session, ref.domain)
    if domain_id is None:
        return None
    stmt = sa.select(User).where(User.domain_id == domain_id, User.name == ref.name)
    return (await session.scalars(stmt)).first()


async def _find_app_cred(session: AsyncSession, ref: AppCredMethod) -> ApplicationCredential | None:
    if ref.id is not None:
        return await session.get(ApplicationCredential, ref.id)
    if ref.name is None or ref.user is None:
        raise InvalidInput(
            "identity.auth.no_app_cred",
            "Expecting to find id, or name and user, in application_credential.",
        )
    user = await _find_user(session, ref.user)
    if user is None:
        return None
    stmt = sa.select(ApplicationCredential).where(
        ApplicationCredential.user_id == user.id, ApplicationCredential.name == ref.name
    )
    return (await session.scalars(stmt)).first()


async def _domain_id(session: AsyncSession, ref: DomainRef) -> str | None:
    """The id of the domain named by id or name, or ``None`` if there is no such domain."""
    if ref.id is not None:
        return ref.id if await session.get(Domain, ref.id) is not None else None
    if ref.name is None:
        raise InvalidInput("identity.auth.no_domain", "Expecting to find id or name in domain.")
    return await session.scalar(sa.select(Domain.id).where(Domain.name == ref.name))


async def _scope(
    session: AsyncSession, scope: ScopeRef | Literal["unscoped"] | None, who: Identified
) -> tuple[str | None, str | None, bool]:
    """(project_id, domain_id, system) the new token is for; 401 for a scope that does not
    exist. Roles are checked when the token is described: none there is a 401 too."""
    if who.app_cred is not None:
        wanted = scope.project if isinstance(scope, ScopeRef) else None
        if wanted is not None and await _project_id(session, wanted) != who.app_cred.project_id:
            raise refused("identity.app_cred.scope")
        if isinstance(scope, ScopeRef) and (scope.domain or scope.system):
            raise refused("identity.app_cred.scope")
        return who.app_cred.project_id, None, False
    if scope == "unscoped":
        return None, None, False
    if scope is None:
        return await _default_project(session, who), None, False
    if sum(x is not None for x in (scope.project, scope.domain, scope.system)) > 1:
        raise InvalidInput("identity.auth.scope", "Only one of project, domain or system scope.")
    if scope.system is not None:
        if scope.system.get("all") is not True:
            raise InvalidInput("identity.auth.system_scope", "The system scope must be all.")
        return None, None, True
    if scope.project is not None:
        project_id = await _project_id(session, scope.project)
        if project_id is None:
            raise refused("identity.scope.not_found")
        return project_id, None, False
    if scope.domain is not None:
        domain_id = await _domain_id(session, scope.domain)
        if domain_id is None:
            raise refused("identity.scope.not_found")
        return None, domain_id, False
    return None, None, False


async def _project_id(session: AsyncSession, ref: ProjectRef) -> str | None:
    if ref.id is not None:
        return ref.id if await session.get(Project, ref.id) is not None else None
    if ref.name is None:
        raise InvalidInput("identity.auth.no_project", "Expecting to find id or name in project.")
    if ref.domain is None:
        raise InvalidInput("identity.auth.no_domain", "Expecting to find domain in project.")
    domain_id = await _domain_id(session, ref.domain)
    stmt = sa.select(Project.id).where(Project.domain_id == domain_id, Project.name == ref.name)
    return await session.scalar(stmt)


async def _default_project(session: AsyncSession, who: Identified) -> str | None:
    """Keystone's rule, for every method: no scope asked means the user's default project,
    if it is enabled and the user holds a role there; otherwise an unscoped token."""
    project_id = who.default_project_id
    if project_id is None:
        return None
    project = await session.get(Project, project_id)
    domain = await session.get(Domain, project.domain_id) if project else None
    if project is None or not project.enabled or domain is None or not domain.enabled:
        return None
    roles = await effective_roles.scoped_role_ids(session, who.user_id, project_id=project_id)
    return project_id if roles else None


async def _subject(req: ApiRequest) -> tuple[str, ValidatedToken]:
    """The ``X-Subject-Token`` and what it grants; an unusable one is Keystone's 404."""
    subject = req.header(SUBJECT)
    if not subject:
        raise InvalidInput("identity.token.no_subject", f"The {SUBJECT} header is required.")
    st = state_of(req)
    try:
        validated = await st.validator.validate(subject, allow_expired=_flag(req, "allow_expired"))
    except Unauthenticated:
        raise NotFound("identity.token.not_found", "Could not find token.") from None
    ctx = req.ctx
    own = validated.user.id == ctx.user_id
    enforce(own or ctx.is_admin or ctx.has_any_role("service"), "identity:validate_token")
    return subject, validated


@routes.route("GET", "/v3/auth/tokens", rule=AUTHENTICATED)
async def get_tokens(req: ApiRequest) -> Response:
    subject, validated = await _subject(req)
    if req.raw.method == "HEAD":
        return Response(status_code=200, headers={SUBJECT: subject})
    return _token_response(validated, subject, 200, not _flag(req, "nocatalog"))


@routes.route("DELETE", "/v3/auth/tokens", rule=AUTHENTICATED)
async def delete_tokens(req: ApiRequest) -> Response:
    _, validated = await _subject(req)
    st = state_of(req)
    async with st.db.session() as session:
        await revocation.revoke_token(session, validated.payload)
    st.changed()
    return Response(status_code=204)

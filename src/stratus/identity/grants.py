"""What a token grants right now, and its Keystone token body.

The token itself only says who and for which scope; whether that still holds (user and
project enabled, roles still assigned, application credential still there) is read here,
on issue and on every validation cache miss, so that no grant outlives its assignment for
longer than the validation cache keeps it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.errors import Unauthenticated
from stratus.identity.catalog import CatalogJson
from stratus.identity.effective_roles import (
    RoleRef,
    ancestors,
    roles_on_domain,
    roles_on_project,
    roles_on_system,
)
from stratus.identity.models import ApplicationCredential, Domain, Project, User
from stratus.identity.tokens import AUTH_REQUIRED, TokenPayload


@dataclass(frozen=True, slots=True)
class Named:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: str
    name: str
    domain: Named
    password_expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: str
    name: str
    domain: Named


@dataclass(frozen=True, slots=True)
class AppCredInfo:
    id: str
    name: str
    restricted: bool


@dataclass(slots=True)
class ValidatedToken:
    """A token's payload with the current facts behind it; renders Keystone's body once."""

    payload: TokenPayload
    user: UserInfo
    roles: tuple[RoleRef, ...] = ()
    project: ProjectInfo | None = None
    domain: Named | None = None
    app_cred: AppCredInfo | None = None
    catalog: CatalogJson | None = None
    # The validator's cache generation when this was read (see ``TokenValidator.remember``).
    generation: int = field(default=-1, repr=False, compare=False)
    _json: dict[bool, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def scoped(self) -> bool:
        return self.project is not None or self.domain is not None or self.payload.system

    def context(self) -> RequestContext:
        return RequestContext(
            user_id=self.user.id,
            user_domain_id=self.user.domain.id,
            project_id=self.project.id if self.project else None,
            project_domain_id=self.project.domain.id if self.project else None,
            domain_id=self.domain.id if self.domain else None,
            system_scope="all" if self.payload.system else None,
            roles=[r.name for r in self.roles],
            app_cred_id=self.payload.app_cred_id,
            audit_ids=list(self.payload.audit_ids),
        )

    def body(self, *, include_catalog: bool = True) -> dict[str, Any]:
        """``{"token": {...}}`` as Keystone returns it from POST/GET /v3/auth/tokens."""
        p, u = self.payload, self.user
        token: dict[str, Any] = {
            "methods": list(p.methods),
            "user": {
                "domain": {"id": u.domain.id, "name": u.domain.name},
                "id": u.id,
                "name": u.name,
                "password_expires_at": _plain_time(u.password_expires_at),
            },
            "audit_ids": list(p.audit_ids),
            "expires_at": _token_time(p.expires_at),
            "issued_at": _token_time(p.issued_at),
        }
        if self.project is not None:
            domain = self.project.domain
            token["project"] = {
                "domain": {"id": domain.id, "name": domain.name},
                "id": self.project.id,
                "name": self.project.name,
            }
            token["is_domain"] = False
        if self.domain is not None:
            token["domain"] = {"id": self.domain.id, "name": self.domain.name}
        if p.system:
            token["system"] = {"all": True}
        if self.scoped:
            token["roles"] = [{"id": r.id, "name": r.name} for r in self.roles]
            if include_catalog:
                token["catalog"] = self.catalog or []
        if self.app_cred is not None:
            ac = self.app_cred
            token["application_credential"] = {
                "id": ac.id,
                "name": ac.name,
                "restricted": ac.restricted,
            }
        return {"token": token}

    def json(self, *, include_catalog: bool = True) -> bytes:
        """The body as bytes, rendered once per cached token and variant."""
        rendered = self._json.get(include_catalog)
        if rendered is None:
            body = self.body(include_catalog=include_catalog)
            rendered = json.dumps(body, separators=(",", ":")).encode()
            self._json[include_catalog] = rendered
        return rendered


def _token_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain_time(when: dt.datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def refused(code: str) -> Unauthenticated:
    """A 401 that says no more than Keystone does (never which check failed)."""
    return Unauthenticated(code, AUTH_REQUIRED)


async def describe(session: AsyncSession, payload: TokenPayload) -> ValidatedToken:
    """Check that ``payload`` still grants something and say what; raise a 401 if not."""
    validated = ValidatedToken(payload, await _user(session, payload.user_id))
    roles: list[RoleRef] = []
    if payload.project_id is not None:
        project = await _project(session, payload.project_id)
        validated.project = ProjectInfo(project[0].id, project[0].name, project[1])
        roles = await roles_on_project(
            session, payload.user_id, project[0], await ancestors(session, project[0])
        )
    elif payload.domain_id is not None:
        validated.domain = await _domain(session, payload.domain_id)
        roles = await roles_on_domain(session, payload.user_id, payload.domain_id)
    elif payload.system:
        roles = await roles_on_system(session, payload.user_id)
    if payload.app_cred_id is not None:
        validated.app_cred, roles = await _app_cred(session, payload, roles)
    if validated.scoped and not roles:
        raise refused("identity.scope.no_roles")
    validated.roles = tuple(roles)
    return validated


async def _user(session: AsyncSession, user_id: str) -> UserInfo:
    row = (
        await session.execute(
            sa.select(User, Domain.name)
            .join(Domain, Domain.id == User.domain_id)
            .where(User.id == user_id, User.enabled.is_(True), Domain.enabled.is_(True))
        )
    ).first()
    if row is None:
        raise refused("identity.user.unusable")
    user, domain_name = row
    domain = Named(user.domain_id, domain_name)
    return UserInfo(user.id, user.name, domain, user.password_expires_at)


async def _project(session: AsyncSession, project_id: str) -> tuple[Project, Named]:
    row = (
        await session.execute(
            sa.select(Project, Domain.name)
            .join(Domain, Domain.id == Project.domain_id)
            .where(Project.id == project_id, Project.enabled.is_(True), Domain.enabled.is_(True))
        )
    ).first()
    if row is None:
        raise refused("identity.project.unusable")
    return row[0], Named(row[0].domain_id, row[1])


async def _domain(session: AsyncSession, domain_id: str) -> Named:
    domain = await session.get(Domain, domain_id)
    if domain is None or not domain.enabled:
        raise refused("identity.domain.unusable")
    return Named(domain.id, domain.name)


async def _app_cred(
    session: AsyncSession, payload: TokenPayload, held: list[RoleRef]
) -> tuple[AppCredInfo, list[RoleRef]]:
    """The credential's delegated roles; all must still be held by its user, as in Keystone."""
    cred = await session.get(ApplicationCredential, payload.app_cred_id)
    if cred is None or cred.user_id != payload.user_id or cred.project_id != payload.project_id:
        raise refused("identity.app_cred.unusable")
    if cred.expires_at is not None and cred.expires_at <= dt.datetime.now(dt.UTC):
        raise refused("identity.app_cred.expired")
    by_id = {r.id: r for r in held}
    if not cred.role_ids or any(rid not in by_id for rid in cred.role_ids):
        raise refused("identity.app_cred.roles_lost")
    info = AppCredInfo(cred.id, cred.name, not cred.unrestricted)
    return info, [by_id[rid] for rid in dict.fromkeys(cred.role_ids)]

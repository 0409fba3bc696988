"""Identity's RPC messages: token validation and issuing for the other API services, and
the fan-out that keeps every node's token cache current.

Every API service authenticates ``X-Auth-Token`` callers through ``ValidateToken`` (see
``identity/client.py``) instead of reading identity's tables, which it may have no
credentials for. This module is imported by those services, so it must never import the
SQL layer or identity's models (an import-linter contract and ``test_layering`` check it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import ClassVar

from pydantic import BaseModel, Field

from stratus.common.context import RequestContext
from stratus.common.rpc import Call, Cast, Dispatcher

# Served by every identity node: ValidateToken and IssueToken, load-balanced.
IDENTITY_TOPIC = "identity"
# A topic of its own: every identity node (and every RemoteAuthenticator) hears each fan-out.
REVOCATION_TOPIC = "identity_tokens"

DEFAULT_DOMAIN = "default"


class TokenInfo(BaseModel):
    """What a valid token grants right now: who, for which scope, with which roles.

    Exactly one of project, domain or system scope is set for a scoped token; none for an
    unscoped one. Roles are names (``admin``, ``member``, ``reader``...), as policies use.
    """

    user_id: str
    user_name: str
    user_domain_id: str
    user_domain_name: str
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system_scope: str | None = None  # "all" for a system-scoped token
    roles: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)
    app_cred_id: str | None = None
    issued_at: dt.datetime
    expires_at: dt.datetime
    audit_ids: list[str] = Field(default_factory=list)
    is_admin_project: bool = False

    def context(self, request_id: str, token: str) -> RequestContext:
        """The request context handlers see, the same one identity's own validator builds."""
        return RequestContext(
            request_id=request_id,
            user_id=self.user_id,
            user_domain_id=self.user_domain_id,
            project_id=self.project_id,
            project_domain_id=self.project_domain_id,
            domain_id=self.domain_id,
            system_scope=self.system_scope,
            roles=list(self.roles),
            is_admin_project=self.is_admin_project,
            auth_token=token,
            app_cred_id=self.app_cred_id,
            audit_ids=list(self.audit_ids),
        )


class ValidateToken(Call[TokenInfo]):
    """What ``token`` grants; an invalid, expired or revoked one is ``Unauthenticated``."""

    wire_name: ClassVar[str] = "identity.validate_token"
    token: str


class IssuedToken(BaseModel):
    token: str
    expires_at: dt.datetime
    info: TokenInfo


class IssueToken(Call[IssuedToken]):
    """A password token, for front ends that take passwords themselves (Swift v1 auth).

    Domains are given by id or name. Without ``project_name`` the token is scoped as
    Keystone scopes a request without scope (the user's default project, if usable).
    Wrong credentials are one ``Unauthenticated`` error, whether or not the user exists.
    """

    wire_name: ClassVar[str] = "identity.issue_token"
    user_name: str
    user_domain: str = DEFAULT_DOMAIN
    password: str = Field(repr=False)
    project_name: str | None = None
    project_domain: str = DEFAULT_DOMAIN


class TokensRevoked(Cast):
    """A node recorded a revocation or changed what tokens grant (roles, users, catalog).

    Receivers drop their cached validations and reload revocation events at once, instead
    of on their next poll. ``origin`` lets the sender ignore its own broadcast.
    """

    wire_name: ClassVar[str] = "identity.revoked"
    origin: str


def revocation_dispatcher(on_revoked: Callable[[TokensRevoked], Awaitable[None]]) -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.handler(TokensRevoked)
    async def revoked(ctx: RequestContext, msg: TokensRevoked) -> None:
        await on_revoked(msg)

    return dispatcher

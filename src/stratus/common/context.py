"""The request context: who is asking and under which request id.

It travels with every RPC message and is bound to log records, so one request can be
followed through every service it touches.
"""

from __future__ import annotations

import contextvars
import uuid

from pydantic import BaseModel, Field


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


class RequestContext(BaseModel):
    """Identity and scope of the caller, as established by token validation."""

    request_id: str = Field(default_factory=new_request_id)
    user_id: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None  # set for a domain-scoped token
    system_scope: str | None = None  # "all" for a system-scoped token
    roles: list[str] = Field(default_factory=list)
    is_admin_project: bool = False
    auth_token: str | None = Field(default=None, exclude=True, repr=False)
    app_cred_id: str | None = None
    audit_ids: list[str] = Field(default_factory=list)

    @property
    def is_admin(self) -> bool:
        """A cloud administrator: the ``admin`` role in the token's scope."""
        return "admin" in self.roles

    def has_any_role(self, *names: str) -> bool:
        return any(r in self.roles for r in names)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "stratus_request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


def bind(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def unbind(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)

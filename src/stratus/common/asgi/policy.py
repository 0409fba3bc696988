"""Access rules, declared beside each route's handler.

A rule sees the caller's context and the route's path parameters. Checks that need the
target loaded from the database happen in the handler, through ``enforce``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden

Check = Callable[[RequestContext, Mapping[str, str]], bool]


@dataclass(frozen=True)
class Rule:
    """A named check; the name appears in the 403 message, as Keystone's policy names do."""

    name: str
    check: Check
    needs_auth: bool = True

    def allows(self, ctx: RequestContext, params: Mapping[str, str]) -> bool:
        return self.check(ctx, params)

    def __or__(self, other: Rule) -> Rule:
        return Rule(
            f"{self.name} or {other.name}",
            lambda c, p: self.check(c, p) or other.check(c, p),
            self.needs_auth or other.needs_auth,
        )

    def __and__(self, other: Rule) -> Rule:
        return Rule(
            f"{self.name} and {other.name}",
            lambda c, p: self.check(c, p) and other.check(c, p),
            self.needs_auth or other.needs_auth,
        )

    def named(self, name: str) -> Rule:
        return Rule(name, self.check, self.needs_auth)


PUBLIC = Rule("public", lambda c, p: True, needs_auth=False)
AUTHENTICATED = Rule("authenticated", lambda c, p: c.user_id is not None)
ADMIN = Rule("role:admin", lambda c, p: c.is_admin)
READER = Rule("role:reader", lambda c, p: c.has_any_role("admin", "member", "reader"))
MEMBER = Rule("role:member", lambda c, p: c.has_any_role("admin", "member"))
SYSTEM_READER = Rule(
    "role:reader and system_scope:all",
    lambda c, p: c.system_scope == "all" and c.has_any_role("admin", "member", "reader"),
)
# Keystone's default for reading what only administrators change: an admin, or anyone
# with a reader role (or higher) on the whole system, as auditing and tempest rely on.
ADMIN_OR_SYSTEM_READER = ADMIN | SYSTEM_READER


def param_is_own_user(param: str = "user_id") -> Rule:
    return Rule(
        f"user_id:%({param})s", lambda c, p: c.user_id is not None and p.get(param) == c.user_id
    )


def param_is_own_project(param: str = "project_id") -> Rule:
    return Rule(
        f"project_id:%({param})s",
        lambda c, p: c.project_id is not None and p.get(param) == c.project_id,
    )


def enforce(allowed: bool, action: str) -> None:
    """Raise the policy 403 unless ``allowed``; for checks that need the loaded target."""
    if not allowed:
        raise Forbidden(
            "policy.forbidden",
            f"You are not authorized to perform the requested action: {action}.",
        )

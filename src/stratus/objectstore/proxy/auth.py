"""Who is calling, and which accounts they may reach: pluggable, so the proxy does not
depend on how identity is deployed.

A ``ProxyAuth`` turns request headers into a ``Caller`` (or ``None`` for anonymous);
the identity RPC authenticator implements it for real deployments. ``NoAuth`` is a real
configuration (a proxy run without identity, e.g. on a private storage network) in which
every caller is an administrator. ``may_access`` says who owns an account: admins own
every account, others only ``AUTH_<their project id>``; ``is_read_only`` marks a member
whose only role there is ``reader`` (Swift's project reader roles). Everyone else,
the anonymous caller included, gets in only through a container's ACLs (``acl.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from stratus.objectstore.reserved import is_reserved

RESELLER_PREFIX = "AUTH_"
READER_ROLE = "reader"
# roles that make a project's user an owner of its account (Swift's operator roles)
OPERATOR_ROLES = frozenset({"admin", "member", "swiftoperator"})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling. Names are set only when they are unambiguous (users and projects
    of the default domain), so that an ACL written with names cannot match a namesake
    from another domain."""

    project_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    is_admin: bool = False
    user_id: str = ""
    user_name: str = ""
    project_name: str = ""

    @property
    def is_anonymous(self) -> bool:
        return not self.project_id and not self.is_admin and not self.user_id

    @property
    def is_read_only(self) -> bool:
        """A project member whose only role there is ``reader``: GET and HEAD only."""
        return READER_ROLE in self.roles and not (self.roles & OPERATOR_ROLES)


# No credentials, or credentials that did not check out: only public things are allowed.
ANONYMOUS = Caller(project_id="")


class ProxyAuth(Protocol):
    async def authenticate(self, headers: Mapping[str, str]) -> Caller | None:
        """The caller named by the headers (``X-Auth-Token``...), ``None`` if anonymous.

        A token that is present but invalid also gives ``None``: the proxy then answers
        401 whatever the reason, as Swift does."""
        ...


class NoAuth:
    """Every request is an administrator's: only for a proxy configured without identity."""

    async def authenticate(self, headers: Mapping[str, str]) -> Caller | None:
        return Caller(project_id="", roles=frozenset({"admin"}), is_admin=True)


def account_for(project_id: str) -> str:
    return f"{RESELLER_PREFIX}{project_id}"


def may_access(caller: Caller, account: str) -> bool:
    """Whether the caller is the account's owner (or an admin): no ACL is consulted.
    Reserved accounts (the expirer's queue) are the cluster's own: no client's."""
    if is_reserved(account):
        return False
    return caller.is_admin or (
        bool(caller.project_id) and account == account_for(caller.project_id)
    )


@dataclass(frozen=True, slots=True)
class V1Grant:
    """What Swift's v1 auth (``GET /auth/v1.0``) hands back."""

    token: str
    storage_url: str
    expires_in: int  # seconds


class V1Auth(Protocol):
    async def issue(self, user: str, key: str) -> V1Grant | None:
        """A token for ``X-Auth-User`` (``project:user``) and ``X-Auth-Key``; ``None`` if
        the credentials are wrong. Raises ``Unavailable`` when it cannot tell."""
        ...

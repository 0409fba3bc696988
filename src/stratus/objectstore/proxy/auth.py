"""Who is calling, and which accounts they may reach: pluggable, so the proxy does not
depend on how identity is deployed.

A ``ProxyAuth`` turns request headers into a ``Caller`` (or ``None`` for anonymous);
the identity RPC authenticator implements it for real deployments. ``NoAuth`` is a real
configuration (a proxy run without identity, e.g. on a private storage network) in which
every caller is an administrator. The rule itself is ``may_access``: admins reach every
account, others only ``AUTH_<their project id>`` (container ACLs come later).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

RESELLER_PREFIX = "AUTH_"


@dataclass(frozen=True, slots=True)
class Caller:
    project_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    is_admin: bool = False


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

"""The proxy's auth against identity, over the bus (``identity/client.py``).

``X-Auth-Token`` (or Swift's older ``X-Storage-Token``) is validated by identity; Swift's
v1 auth trades ``project:user`` and a password for a project-scoped token. A caller with
the ``admin`` role reaches every account, anyone else ``AUTH_<their project id>`` and
what container ACLs grant them (``proxy/acl.py``).
Identity not answering is ``Unavailable`` (503), never a pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from stratus.common.errors import Kind, StratusError
from stratus.identity.client import RemoteAuthenticator
from stratus.identity.rpc import DEFAULT_DOMAIN, TokenInfo
from stratus.objectstore.proxy.auth import Caller, V1Grant, account_for


def caller_of(info: TokenInfo) -> Caller:
    """Names only from the default domain: elsewhere ``project:user`` names in an ACL
    could match a namesake (Swift's keystoneauth refuses them the same way)."""
    roles = frozenset(info.roles)
    named = info.user_domain_id == DEFAULT_DOMAIN and info.project_domain_id == DEFAULT_DOMAIN
    return Caller(
        project_id=info.project_id or "",
        roles=roles,
        is_admin="admin" in roles,
        user_id=info.user_id,
        user_name=info.user_name if named else "",
        project_name=(info.project_name or "") if named else "",
    )


class KeystoneAuth:
    """``ProxyAuth`` and ``V1Auth`` through a started ``RemoteAuthenticator``."""

    def __init__(self, identity: RemoteAuthenticator, public_url: str) -> None:
        self._identity = identity
        self._public_url = public_url.rstrip("/")  # http://host:port of this proxy

    async def authenticate(self, headers: Mapping[str, str]) -> Caller | None:
        token = headers.get("x-auth-token") or headers.get("x-storage-token")
        if not token:
            return None
        try:
            info = await self._identity.validate(token)
        except StratusError as exc:
            if exc.kind is Kind.UNAVAILABLE:
                raise
            return None
        return caller_of(info)

    async def issue(self, user: str, key: str) -> V1Grant | None:
        project, sep, name = user.partition(":")
        if not sep or not project or not name:
            return None
        try:
            issued = await self._identity.issue(name, key, project_name=project)
        except StratusError as exc:
            if exc.kind is Kind.UNAVAILABLE:
                raise
            return None
        project_id = issued.info.project_id
        if not project_id:
            return None
        expires_in = max(0, math.floor(issued.expires_at.timestamp() - time.time()))
        return V1Grant(
            token=issued.token,
            storage_url=f"{self._public_url}/v1/{account_for(project_id)}",
            expires_in=expires_in,
        )

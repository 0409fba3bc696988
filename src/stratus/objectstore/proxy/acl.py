"""Container ACLs: who besides an account's owner may read or write a container.

``X-Container-Read`` and ``X-Container-Write`` hold comma-separated entries, as Swift's
keystoneauth reads them:

- ``<project>:<user>`` with ids (or names, for the default domain), either side ``*``:
  an authenticated caller who matches;
- a role name: a member of the owning project who has that role;
- ``.r:<referrer>`` (read only): anyone, token or not, whose ``Referer`` host matches
  (``*``, a host, or ``.domain`` for its subdomains; ``-`` in front denies); it opens
  objects, and listings too only with ``.rlistings``.

Owners (members of the account's project, or admins) need no ACL. A read grant allows
object and container GET/HEAD; a write grant object PUT/POST/DELETE and copies into the
container, never container PUT/POST/DELETE, so only owners can change ACLs. A project
member whose only role is ``reader`` may read and nothing more. A refusal is 401 for an
anonymous caller (credentials might help) and 403 for anyone else.

ACLs are read from the container servers through the proxy's short cache
(``info_cache.py``): a revoked grant may still work through another proxy for a few
seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from stratus.common.errors import StratusError
from stratus.objectstore.proxy.auth import Caller, may_access
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import bad_request, forbidden, unauthorized
from stratus.objectstore.proxy.info import container_info

READ_ACL = "x-container-read"
WRITE_ACL = "x-container-write"
LISTINGS = ".rlistings"
_REFERRER_PREFIXES = (".r:", ".ref:", ".referer:", ".referrer:")
READS = frozenset({"GET", "HEAD"})

# what only an owner may see in a HEAD or GET: grants, sync secrets and TempURL keys
OWNER_ONLY_HEADERS = frozenset(
    {
        READ_ACL,
        WRITE_ACL,
        "x-container-sync-key",
        "x-container-sync-to",
        "x-container-meta-temp-url-key",
        "x-container-meta-temp-url-key-2",
        "x-account-meta-temp-url-key",
        "x-account-meta-temp-url-key-2",
        "x-account-access-control",
    }
)


@dataclass(frozen=True, slots=True)
class Acl:
    referrers: tuple[str, ...]  # in order: the last one that matches decides
    groups: frozenset[str]  # ``project:user`` entries, role names, ``.rlistings``

    def allows_referrer(self, referrer: str) -> bool:
        host = (urlparse(referrer).hostname if referrer else None) or "unknown"
        allowed = False
        for rule in self.referrers:
            deny = rule.startswith("-")
            pattern = rule[1:] if deny else rule
            if pattern in ("*", host) or (pattern.startswith(".") and host.endswith(pattern)):
                allowed = not deny
        return allowed


def parse_acl(text: str) -> Acl:
    """Lenient: whatever is stored is read as best it can be (``check_acl`` guards writes)."""
    referrers: list[str] = []
    groups: set[str] = set()
    for entry in (e.strip() for e in text.split(",")):
        prefix = next((p for p in _REFERRER_PREFIXES if entry.startswith(p)), None)
        if prefix is not None:
            referrers.append(entry[len(prefix) :].strip())
        elif entry:
            groups.add(entry)
    return Acl(tuple(r for r in referrers if r.lstrip("-")), frozenset(groups))


def check_acl(header: str, text: str) -> None:
    """Refuse (400) an ACL that would not mean what its writer thinks."""
    for entry in (e.strip() for e in text.split(",")):
        is_referrer = entry.startswith(_REFERRER_PREFIXES) or entry == LISTINGS
        if is_referrer and header == WRITE_ACL:
            raise bad_request("Referrers not allowed in write ACL")
        if entry.startswith(_REFERRER_PREFIXES) and not entry.partition(":")[2].strip("- "):
            raise bad_request(f"No host or domain given after referrer in {header}")
        if entry.startswith(".") and not is_referrer:
            raise bad_request(f"Unknown designator {entry.split(':')[0]} in {header}")


def check_acl_headers(headers: Mapping[str, str]) -> None:
    for header in (READ_ACL, WRITE_ACL):
        if header in headers:
            check_acl(header, headers[header])


def names_for(caller: Caller) -> set[str]:
    """The ``project:user`` entries that would name the caller."""
    if not caller.user_id:
        return set()
    projects = {caller.project_id, "*"} if caller.project_id else {"*"}
    users = {caller.user_id, "*"}
    if caller.project_name:
        projects.add(caller.project_name)
    if caller.user_name:
        users.add(caller.user_name)
    return {f"{p}:{u}" for p in projects for u in users}


def grants(caller: Caller, acl: Acl, account: str) -> bool:
    """By name, or by a role the caller holds in the account's own project."""
    if names_for(caller) & acl.groups:
        return True
    return may_access(caller, account) and bool(caller.roles & acl.groups)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request touches, as authorisation needs it."""

    method: str
    account: str
    container: str | None
    obj: str | None
    headers: Mapping[str, str]


async def authorize(cluster: Cluster, caller: Caller, target: Target) -> bool:
    """Raise 401/403 unless the caller may do this; return whether it is the owner."""
    if target.method == "OPTIONS":
        return False
    if may_access(caller, target.account):
        if not caller.is_read_only:
            return True
        if target.method in READS:
            return False
    if not await _granted(cluster, caller, target):
        raise unauthorized() if caller.is_anonymous else forbidden()
    return False


async def _granted(cluster: Cluster, caller: Caller, target: Target) -> bool:
    container, obj, method = target.container, target.obj, target.method
    if container is None or (obj is None and method not in READS):
        return False
    if method == "COPY":
        destination = _copy_target(target.headers.get("destination", ""))
        if destination is None:
            return False
        return await _may(cluster, caller, target, container, obj, read=True) and await _may(
            cluster, caller, target, destination[0], destination[1], read=False
        )
    if method == "PUT" and "x-copy-from" in target.headers:
        source = _copy_target(target.headers["x-copy-from"])
        if source is None or not await _may(cluster, caller, target, *source, read=True):
            return False
    return await _may(cluster, caller, target, container, obj, read=method in READS)


async def _may(
    cluster: Cluster, caller: Caller, target: Target, container: str, obj: str | None, *, read: bool
) -> bool:
    try:
        info = await container_info(cluster, target.account, container)
    except StratusError:
        return False
    if not info.exists:
        return False
    acl = parse_acl(info.get(READ_ACL if read else WRITE_ACL))
    if grants(caller, acl, target.account):
        return True
    if not read:
        return False
    referred = acl.allows_referrer(target.headers.get("referer", ""))
    return referred and (obj is not None or LISTINGS in acl.groups)


def _copy_target(value: str) -> tuple[str, str] | None:
    container, _, obj = unquote(value.strip()).lstrip("/").partition("/")
    return (container, obj) if container and obj else None


def hide_owner_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [h for h in headers if h[0].decode("latin-1").lower() not in OWNER_ONLY_HEADERS]

"""Identity entities as Keystone v3 renders them, with their ``links``.

One renderer per entity, shared by every route module, so a project looks the same
whether it comes from ``GET /v3/projects/{id}``, a list or ``/v3/users/{id}/projects``.
Free attributes stored in ``extra`` are flattened in first, so a stored extra can never
shadow a real field. Secrets never appear except where Keystone returns them once
(application credential create, EC2 credentials).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from stratus.identity import models as m

Json = dict[str, Any]  # a JSON object on its way to the wire


def url(base: str, *parts: str) -> str:
    return "/".join((base, "v3", *parts))


def collection(key: str, items: Iterable[Json], self_url: str) -> Json:
    return {key: list(items), "links": {"self": self_url, "previous": None, "next": None}}


def timestamp(value: dt.datetime | None) -> str | None:
    """Keystone's ISO form with microseconds and a ``Z``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def naive_iso(value: dt.datetime | None) -> str | None:
    """UTC without an offset, microseconds only when non-zero: how Keystone serialises
    the datetimes it stores as given (application credential ``expires_at``)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()


def _with_extra(extra: dict[str, Any] | None, fields: Json, hidden: tuple[str, ...] = ()) -> Json:
    out = {k: v for k, v in (extra or {}).items() if k not in hidden}
    out.update(fields)
    return out


def domain(base: str, d: m.Domain) -> Json:
    return _with_extra(
        d.extra,
        {
            "id": d.id,
            "name": d.name,
            "description": d.description,
            "enabled": d.enabled,
            "tags": list(d.extra.get("tags", [])),
            "options": dict(d.extra.get("options", {})),
            "links": {"self": url(base, "domains", d.id)},
        },
    )


def project(base: str, p: m.Project) -> Json:
    return _with_extra(
        p.extra,
        {
            "id": p.id,
            "name": p.name,
            "domain_id": p.domain_id,
            "description": p.description,
            "enabled": p.enabled,
            "parent_id": p.parent_id or p.domain_id,  # top-level projects: their domain
            "is_domain": False,
            "tags": list(p.tags),
            "options": dict(p.extra.get("options", {})),
            "links": {"self": url(base, "projects", p.id)},
        },
    )


def user(base: str, u: m.User) -> Json:
    fields: Json = {
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": timestamp(u.password_expires_at),
        "options": dict(u.options),
        "links": {"self": url(base, "users", u.id)},
    }
    if u.default_project_id:
        fields["default_project_id"] = u.default_project_id
    if u.description:
        fields["description"] = u.description
    if u.email:
        fields["email"] = u.email
    return _with_extra(u.extra, fields)


def group(base: str, g: m.Group) -> Json:
    return _with_extra(
        g.extra,
        {
            "id": g.id,
            "name": g.name,
            "domain_id": g.domain_id,
            "description": g.description,
            "links": {"self": url(base, "groups", g.id)},
        },
    )


def role(base: str, r: m.Role) -> Json:
    return _with_extra(
        r.extra,
        {
            "id": r.id,
            "name": r.name,
            "domain_id": r.domain_id,
            "description": r.description,
            "options": dict(r.extra.get("options", {})),
            "links": {"self": url(base, "roles", r.id)},
        },
    )


def role_ref(r: m.Role) -> Json:
    """A role as a token or an application credential names it."""
    return {"id": r.id, "name": r.name, "domain_id": r.domain_id}


def region(base: str, r: m.Region) -> Json:
    return _with_extra(
        r.extra,
        {
            "id": r.id,
            "description": r.description,
            "parent_region_id": r.parent_region_id,
            "links": {"self": url(base, "regions", r.id)},
        },
    )


def service(base: str, s: m.CatalogService, hidden: tuple[str, ...] = ()) -> Json:
    return _with_extra(
        s.extra,
        {
            "id": s.id,
            "type": s.type,
            "name": s.name,
            "description": s.description,
            "enabled": s.enabled,
            "links": {"self": url(base, "services", s.id)},
        },
        hidden,
    )


def endpoint(base: str, e: m.Endpoint) -> Json:
    return _with_extra(
        e.extra,
        {
            "id": e.id,
            "interface": e.interface,
            "region_id": e.region_id,
            "region": e.region_id,  # the pre-3.2 name clients still read
            "service_id": e.service_id,
            "url": e.url,
            "enabled": e.enabled,
            "links": {"self": url(base, "endpoints", e.id)},
        },
    )


def app_credential(
    base: str, ac: m.ApplicationCredential, roles: Iterable[m.Role], secret: str | None = None
) -> Json:
    out: Json = {
        "id": ac.id,
        "name": ac.name,
        "description": ac.description or None,
        "user_id": ac.user_id,
        "project_id": ac.project_id,
        "expires_at": naive_iso(ac.expires_at),
        "unrestricted": ac.unrestricted,
        "roles": [role_ref(r) for r in roles],
        "access_rules": [],
        "links": {"self": url(base, "users", ac.user_id, "application_credentials", ac.id)},
    }
    if secret is not None:
        out["secret"] = secret
    return out


def credential(base: str, c: m.Credential, blob: str) -> Json:
    """A v3 credential; ``blob`` is the decrypted JSON string, as Keystone returns it."""
    return _with_extra(
        c.extra,
        {
            "id": c.id,
            "user_id": c.user_id,
            "project_id": c.project_id,
            "type": c.type,
            "blob": blob,
            "links": {"self": url(base, "credentials", c.id)},
        },
    )


def ec2_credential(base: str, c: m.Credential, blob: dict[str, Any]) -> Json:
    """The OS-EC2 view: access and secret in the clear, as the EC2 clients expect."""
    access = str(blob.get("access", ""))
    return {
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": access,
        "secret": blob.get("secret"),
        "trust_id": blob.get("trust_id"),
        "links": {"self": url(base, "users", c.user_id, "credentials", "OS-EC2", access)},
    }

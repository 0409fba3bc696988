"""``GET /v3/role_assignments``: the query, the effective expansion and the rendering.

Without ``effective`` the answer lists the grants as stored, inherited ones marked
``OS-INHERIT:inherited_to``. With ``effective`` it lists what each user really holds:
group grants become one entry per member (with a ``membership`` link) and inherited
grants one entry per project below their target; the expansion itself lives in
``effective_roles`` so token validation and this listing can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.errors import InvalidInput
from stratus.identity import fields as f
from stratus.identity import implied_roles
from stratus.identity import models as m
from stratus.identity.effective_roles import effective_assignments
from stratus.identity.views import Json, url

A = m.Assignment


@dataclass(frozen=True)
class Filters:
    user_id: str | None = None
    group_id: str | None = None
    role_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    inherited_only: bool = False
    effective: bool = False
    include_names: bool = False
    include_subtree: bool = False
    system: bool = False

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> Filters:
        flt = cls(
            user_id=q.get("user.id"),
            group_id=q.get("group.id"),
            role_id=q.get("role.id"),
            project_id=q.get("scope.project.id"),
            domain_id=q.get("scope.domain.id"),
            inherited_only=q.get("scope.OS-INHERIT:inherited_to") == "projects",
            effective=f.flag(q.get("effective")),
            include_names=f.flag(q.get("include_names")),
            include_subtree=f.flag(q.get("include_subtree")),
            system="scope.system" in q,
        )
        flt.validate()
        return flt

    def validate(self) -> None:
        def bad(message: str) -> InvalidInput:
            return InvalidInput("identity.role_assignments.filter", message)

        if self.user_id and self.group_id:
            raise bad("Specify a user or group, not both.")
        if self.project_id and self.domain_id:
            raise bad("Specify a domain or project, not both.")
        if self.effective and self.group_id:
            raise bad("Combining effective and group filter will always result in an empty list.")
        if self.include_subtree and not self.project_id:
            raise bad(
                "scope.project.id needs to be specified if include_subtree is also specified."
            )


@dataclass(frozen=True)
class Listed:
    """One entry of the answer, before rendering."""

    role_id: str
    actor: tuple[str, str]  # ("user" | "group", id)
    target: tuple[str, str]  # ("project" | "domain", id)
    inherited: bool  # shown as OS-INHERIT:inherited_to (never in effective answers)
    assignment: str  # path of the grant it comes from, under /v3
    membership: str | None = None
    prior_role: str | None = None  # the role that implied this one (effective answers)


def grant_path(kind: str, actor: str, target: str, role_id: str, inherited: bool) -> str:
    """The /v3 path of a grant: kind is an assignment type such as ``GroupDomain``."""
    actors = "users" if kind.startswith("User") else "groups"
    if kind.endswith("System"):
        return f"system/{actors}/{actor}/roles/{role_id}"
    targets = "projects" if kind.endswith("Project") else "domains"
    path = f"{targets}/{target}/{actors}/{actor}/roles/{role_id}"
    return f"OS-INHERIT/{path}/inherited_to_projects" if inherited else path


async def _subtree(s: AsyncSession, project_id: str) -> set[str]:
    rows = (await s.execute(sa.select(m.Project.id, m.Project.parent_id))).all()
    children: dict[str, list[str]] = {}
    for pid, parent in rows:
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found = {project_id}
    queue = [project_id]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


async def _stored(s: AsyncSession, flt: Filters, projects: set[str] | None) -> list[Listed]:
    stmt = sa.select(A)
    if flt.user_id:
        stmt = stmt.where(A.actor_id == flt.user_id, A.type.startswith("User"))
    if flt.group_id:
        stmt = stmt.where(A.actor_id == flt.group_id, A.type.startswith("Group"))
    if flt.system:
        stmt = stmt.where(A.type.in_(m.SYSTEM_ASSIGNMENT_TYPES.values()))
    if flt.role_id:
        stmt = stmt.where(A.role_id == flt.role_id)
    if projects is not None:
        stmt = stmt.where(A.type.in_(("UserProject", "GroupProject")), A.target_id.in_(projects))
    if flt.domain_id:
        stmt = stmt.where(A.type.in_(("UserDomain", "GroupDomain")), A.target_id == flt.domain_id)
    if flt.inherited_only:
        stmt = stmt.where(A.inherited.is_(True))
    rows = (await s.scalars(stmt)).all()
    return [
        Listed(
            a.role_id,
            ("user" if a.type.startswith("User") else "group", a.actor_id),
            _target_of(a),
            a.inherited,
            grant_path(a.type, a.actor_id, a.target_id, a.role_id, a.inherited),
        )
        for a in rows
    ]


def _target_of(a: m.Assignment) -> tuple[str, str]:
    if a.type.endswith("System"):
        return ("system", "all")
    return ("project" if a.type.endswith("Project") else "domain", a.target_id)


async def _effective_system(s: AsyncSession, flt: Filters) -> list[Listed]:
    """System grants as each user holds them: group grants once per member."""
    stmt = sa.select(A).where(A.type.in_(m.SYSTEM_ASSIGNMENT_TYPES.values()))
    members = sa.select(m.GroupMember.group_id, m.GroupMember.user_id)
    users_of: dict[str, list[str]] = {}
    for gid, uid in (await s.execute(members)).all():
        users_of.setdefault(gid, []).append(uid)
    out = []
    for a in (await s.scalars(stmt)).all():
        path = grant_path(a.type, a.actor_id, a.target_id, a.role_id, False)
        holders: list[tuple[str, str | None]]
        if a.type.startswith("User"):
            holders = [(a.actor_id, None)]
        else:
            holders = [(u, f"groups/{a.actor_id}/users/{u}") for u in users_of.get(a.actor_id, [])]
        for uid, membership in holders:
            if flt.user_id is None or uid == flt.user_id:
                listed = Listed(
                    a.role_id, ("user", uid), ("system", "all"), False, path, membership
                )
                out.append(listed)
    return out


async def _effective(s: AsyncSession, flt: Filters, projects: set[str] | None) -> list[Listed]:
    exact = flt.project_id if projects is None or not flt.include_subtree else None
    found = await effective_assignments(
        s, user_id=flt.user_id, project_id=exact, domain_id=flt.domain_id
    )  # the role filter applies after implied roles are expanded
    domains = set((await s.scalars(sa.select(m.Domain.id))).all())
    out = []
    for e in found:
        if projects is not None and e.project_id not in projects:
            continue
        target = ("project", e.project_id) if e.project_id else ("domain", e.domain_id or "")
        actor_kind = "Group" if e.group_id else "User"
        source = e.inherited_from or target[1]
        source_kind = "Domain" if e.inherited_from in domains else target[0].capitalize()
        path = grant_path(
            actor_kind + source_kind,
            e.group_id or e.user_id,
            source,
            e.role_id,
            e.inherited_from is not None,
        )
        membership = f"groups/{e.group_id}/users/{e.user_id}" if e.group_id else None
        out.append(Listed(e.role_id, ("user", e.user_id), target, False, path, membership))
    return out


async def list_assignments(s: AsyncSession, flt: Filters, base: str) -> list[Json]:
    projects = await _subtree(s, flt.project_id) if flt.include_subtree and flt.project_id else None
    if projects is None and flt.project_id:
        projects = {flt.project_id}
    if not flt.effective:
        listed = await _stored(s, flt, projects)
    elif flt.system:
        listed = await _effective_system(s, flt)
    else:
        listed = await _effective(s, flt, projects)
        if projects is None and not flt.domain_id:
            listed += await _effective_system(s, flt)
    if flt.effective:
        listed = await _with_implied(s, listed, flt.role_id)
    names = await _Names.load(s, listed) if flt.include_names else None
    return [_render(item, base, names) for item in listed]


async def _with_implied(s: AsyncSession, listed: list[Listed], role_id: str | None) -> list[Listed]:
    """Each effective role followed by the roles it implies; domain-specific roles (which
    only imply) dropped, as Keystone does."""
    rules = await implied_roles.load_rules(s)
    out = []
    for item in listed:
        for rid, prior in implied_roles.closure(rules, [item.role_id]).items():
            out.append(item if prior is None else replace(item, role_id=rid, prior_role=prior))
    hidden = await implied_roles.domain_specific(s, {i.role_id for i in out})
    return [i for i in out if i.role_id not in hidden and role_id in (None, i.role_id)]


def _render(item: Listed, base: str, names: _Names | None) -> Json:
    def ref(kind: str, ident: str) -> Json:
        return names.ref(kind, ident) if names is not None else {"id": ident}

    if item.target[0] == "system":
        scope: Json = {"system": {"all": True}}
    else:
        scope = {item.target[0]: ref(item.target[0], item.target[1])}
    if item.inherited:
        scope["OS-INHERIT:inherited_to"] = "projects"
    links = {"assignment": url(base, item.assignment)}
    if item.membership is not None:
        links["membership"] = url(base, item.membership)
    if item.prior_role is not None:
        links["prior_role"] = url(base, "roles", item.prior_role)
    return {
        "role": ref("role", item.role_id),
        item.actor[0]: ref(item.actor[0], item.actor[1]),
        "scope": scope,
        "links": links,
    }


class _Names:
    """Names for ``include_names``, loaded in one query per table."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.domains: dict[str, str] = {}

    @classmethod
    async def load(cls, s: AsyncSession, listed: Iterable[Listed]) -> _Names:
        out = cls()
        wanted: dict[str, set[str]] = {
            "role": set(),
            "user": set(),
            "group": set(),
            "project": set(),
        }
        for item in listed:
            wanted["role"].add(item.role_id)
            wanted[item.actor[0]].add(item.actor[1])
            if item.target[0] == "project":
                wanted["project"].add(item.target[1])
        tables = {"role": m.Role, "user": m.User, "group": m.Group, "project": m.Project}
        for kind, ids in wanted.items():
            if ids:
                model: Any = tables[kind]
                for row in (await s.scalars(sa.select(model).where(model.id.in_(ids)))).all():
                    out.rows[f"{kind}:{row.id}"] = {"name": row.name, "domain_id": row.domain_id}
        domains = (await s.execute(sa.select(m.Domain.id, m.Domain.name))).all()
        out.domains = {did: name for did, name in domains}
        return out

    def ref(self, kind: str, ident: str) -> Json:
        if kind == "domain":
            return {"id": ident, "name": self.domains.get(ident, "")}
        row = self.rows.get(f"{kind}:{ident}")
        if row is None:
            return {"id": ident}
        out: Json = {"id": ident, "name": row["name"]}
        if row["domain_id"] is not None:
            out["domain"] = {"id": row["domain_id"], "name": self.domains.get(row["domain_id"], "")}
        return out

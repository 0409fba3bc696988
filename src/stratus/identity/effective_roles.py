"""What roles a user really holds on a project or domain.

A role reaches a user on a project in four ways, as in Keystone: assigned to the user on
the project, assigned to one of the user's groups on the project, assigned *inherited* on
the project's domain (to the user or a group), or assigned *inherited* on an ancestor
project. An inherited assignment never applies to its own target. The roles granted are
then expanded by the implied-role rules (``implied_roles``). Token validation asks this
for every cache miss: one statement for the grants, two small ones for the expansion.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity.implied_roles import effective_role_ids
from stratus.identity.models import Assignment, GroupMember, Project, Role

A = Assignment
_Grant = tuple[str, str, str, str, bool]  # type, actor_id, target_id, role_id, inherited
_MAX_DEPTH = 64  # project hierarchies are shallow; this only stops a corrupt cycle


@dataclass(frozen=True, slots=True)
class RoleRef:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class EffectiveAssignment:
    """One role a user holds on one target, and how (for ``role_assignments?effective``).

    ``group_id`` names the group it came through; ``inherited_from`` the domain or
    ancestor project where the inherited assignment was made.
    """

    role_id: str
    user_id: str
    project_id: str | None = None
    domain_id: str | None = None
    group_id: str | None = None
    inherited_from: str | None = None


def _groups_of(user_id: str) -> sa.Select[str]:
    return sa.select(GroupMember.group_id).where(GroupMember.user_id == user_id)


def _held_by(user_id: str, kind: str) -> sa.ColumnElement[bool]:
    """Assignments of ``kind`` (Project/Domain/System) made to the user or to one of its groups."""
    return sa.or_(
        sa.and_(A.type == f"User{kind}", A.actor_id == user_id),
        sa.and_(A.type == f"Group{kind}", A.actor_id.in_(_groups_of(user_id))),
    )


def _project_role_ids(
    user_id: str, project_id: str, domain_id: str, ancestor_ids: Sequence[str]
) -> sa.Select[str]:
    on_project = sa.and_(A.target_id == project_id, A.inherited.is_(False))
    clauses = [
        sa.and_(_held_by(user_id, "Project"), on_project),
        sa.and_(_held_by(user_id, "Domain"), A.target_id == domain_id, A.inherited.is_(True)),
    ]
    if ancestor_ids:
        clauses.append(
            sa.and_(
                _held_by(user_id, "Project"), A.target_id.in_(ancestor_ids), A.inherited.is_(True)
            )
        )
    return sa.select(A.role_id).where(sa.or_(*clauses))


def _domain_role_ids(user_id: str, domain_id: str) -> sa.Select[str]:
    return sa.select(A.role_id).where(
        _held_by(user_id, "Domain"), A.target_id == domain_id, A.inherited.is_(False)
    )


async def _named(session: AsyncSession, ids: sa.Select[str]) -> list[RoleRef]:
    """The roles granted by ``ids`` as a token carries them (implied roles included)."""
    held = await effective_role_ids(session, (await session.scalars(ids)).all())
    if not held:
        return []
    rows = await session.execute(
        sa.select(Role.id, Role.name).where(Role.id.in_(held)).order_by(Role.name)
    )
    return [RoleRef(rid, name) for rid, name in rows]


async def ancestors(session: AsyncSession, project: Project) -> list[str]:
    """Ids of the project's ancestors, nearest first (usually none: one query per level)."""
    found: list[str] = []
    parent_id = project.parent_id
    while parent_id is not None and parent_id not in found and len(found) < _MAX_DEPTH:
        found.append(parent_id)
        parent_id = await session.scalar(
            sa.select(Project.parent_id).where(Project.id == parent_id)
        )
    return found


async def roles_on_project(
    session: AsyncSession, user_id: str, project: Project, ancestor_ids: Sequence[str] = ()
) -> list[RoleRef]:
    """Roles (id and name, sorted by name) the user holds on ``project``; one query."""
    ids = _project_role_ids(user_id, project.id, project.domain_id, ancestor_ids)
    return await _named(session, ids)


async def roles_on_domain(session: AsyncSession, user_id: str, domain_id: str) -> list[RoleRef]:
    """Roles the user holds on the domain itself (inherited ones apply to its projects only)."""
    return await _named(session, _domain_role_ids(user_id, domain_id))


async def roles_on_system(session: AsyncSession, user_id: str) -> list[RoleRef]:
    """Roles the user holds on the system, directly or through a group."""
    return await _named(session, sa.select(A.role_id).where(_held_by(user_id, "System")))


async def scoped_role_ids(
    session: AsyncSession,
    user_id: str,
    *,
    project_id: str | None = None,
    domain_id: str | None = None,
) -> set[str]:
    """Role ids the user holds on a project or domain (empty if it does not exist)."""
    if project_id is not None:
        project = await session.get(Project, project_id)
        if project is None:
            return set()
        roles = await roles_on_project(session, user_id, project, await ancestors(session, project))
        return {r.id for r in roles}
    if domain_id is not None:
        return set((await session.scalars(_domain_role_ids(user_id, domain_id))).all())
    return set()


async def effective_assignments(
    session: AsyncSession,
    *,
    user_id: str | None = None,
    project_id: str | None = None,
    domain_id: str | None = None,
    role_id: str | None = None,
) -> list[EffectiveAssignment]:
    """Every (role, user, target) that grants access, filtered by the given ids.

    Group assignments are expanded to the group's members and inherited assignments to
    the projects below their target, as ``GET /v3/role_assignments?effective`` shows them.
    """
    stmt = sa.select(A.type, A.actor_id, A.target_id, A.role_id, A.inherited)
    if role_id is not None:
        stmt = stmt.where(A.role_id == role_id)
    if user_id is not None:
        stmt = stmt.where(
            sa.or_(
                sa.and_(A.type.in_(("UserProject", "UserDomain")), A.actor_id == user_id),
                sa.and_(
                    A.type.in_(("GroupProject", "GroupDomain")),
                    A.actor_id.in_(_groups_of(user_id)),
                ),
            )
        )
    grants: list[_Grant] = [(t, a, g, r, i) for t, a, g, r, i in await session.execute(stmt)]
    members = await _members(session, {g[1] for g in grants if g[0].startswith("Group")})
    tree = await _ProjectTree.load(session) if any(g[4] for g in grants) else _ProjectTree()
    out: list[EffectiveAssignment] = []
    for grant in grants:
        kind, actor = grant[0], grant[1]
        for uid in members.get(actor, []) if kind.startswith("Group") else [actor]:
            if user_id is None or uid == user_id:
                out.extend(
                    item
                    for item in _expand(grant, uid, tree)
                    if _matches(item, project_id, domain_id)
                )
    return out


def _expand(grant: _Grant, uid: str, tree: _ProjectTree) -> Iterable[EffectiveAssignment]:
    kind, actor, target, rid, inherited = grant
    group = actor if kind.startswith("Group") else None
    if not inherited:
        if kind.endswith("Project"):
            return [EffectiveAssignment(rid, uid, project_id=target, group_id=group)]
        return [EffectiveAssignment(rid, uid, domain_id=target, group_id=group)]
    below = tree.in_domain(target) if kind.endswith("Domain") else tree.descendants(target)
    return [
        EffectiveAssignment(rid, uid, project_id=p, group_id=group, inherited_from=target)
        for p in below
    ]


def _matches(item: EffectiveAssignment, project_id: str | None, domain_id: str | None) -> bool:
    if project_id is not None and item.project_id != project_id:
        return False
    return domain_id is None or item.domain_id == domain_id


async def _members(session: AsyncSession, group_ids: set[str]) -> dict[str, list[str]]:
    if not group_ids:
        return {}
    rows = await session.execute(
        sa.select(GroupMember.group_id, GroupMember.user_id).where(
            GroupMember.group_id.in_(group_ids)
        )
    )
    out: dict[str, list[str]] = {}
    for gid, uid in rows:
        out.setdefault(gid, []).append(uid)
    return out


@dataclass
class _ProjectTree:
    """Project ids by domain and by parent, loaded once to expand inherited assignments."""

    by_domain: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession) -> _ProjectTree:
        tree = cls()
        rows = await session.execute(sa.select(Project.id, Project.domain_id, Project.parent_id))
        for pid, did, parent in rows:
            tree.by_domain.setdefault(did, []).append(pid)
            if parent is not None:
                tree.children.setdefault(parent, []).append(pid)
        return tree

    def in_domain(self, domain_id: str) -> list[str]:
        return list(self.by_domain.get(domain_id, []))

    def descendants(self, project_id: str) -> list[str]:
        found: set[str] = set()
        queue = list(self.children.get(project_id, []))
        while queue:
            pid = queue.pop()
            if pid not in found:
                found.add(pid)
                queue.extend(self.children.get(pid, []))
        return sorted(found)


async def project_ids_of(session: AsyncSession, user_id: str) -> set[str]:
    """Projects where the user holds at least one role (for ``GET /v3/auth/projects``)."""
    found = await effective_assignments(session, user_id=user_id)
    return {a.project_id for a in found if a.project_id is not None}


async def domain_ids_of(session: AsyncSession, user_id: str) -> set[str]:
    """Domains where the user holds a role on the domain itself (``GET /v3/auth/domains``)."""
    rows = await session.scalars(
        sa.select(A.target_id).where(_held_by(user_id, "Domain"), A.inherited.is_(False))
    )
    return set(rows.all())

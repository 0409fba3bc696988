"""The query behind ``GET /servers`` and ``/servers/detail``: filters, sorting, paging.

Non-admins see their project's servers and may only use the user filters; admin-only
filters from them are ignored, as Nova does, except ``all_tenants`` (403). Deleted
servers appear only with ``changes-since`` (or to admins asking for status DELETED).
Paging runs over ids first, so a marker is found in the full ordering.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest
from stratus.compute import states
from stratus.compute.api.common import bad, marker_not_found, page_limit, query_bool
from stratus.compute.api.microversion import since
from stratus.compute.api.state import state_of
from stratus.compute.models import Instance
from stratus.compute.states import TaskState, VmState

SORT_KEYS = {
    "created_at": Instance.created_at,
    "updated_at": Instance.updated_at,
    "display_name": Instance.name,
    "name": Instance.name,
    "uuid": Instance.id,
    "vm_state": Instance.vm_state,
    "task_state": Instance.task_state,
    "power_state": Instance.power_state,
    "launched_at": Instance.launched_at,
    "terminated_at": Instance.terminated_at,
    "key_name": Instance.key_name,
    "image_ref": Instance.image_ref,
    "availability_zone": Instance.availability_zone,
    "project_id": Instance.project_id,
    "user_id": Instance.user_id,
    "hostname": Instance.hostname,
    "host": Instance.host,
    "node": Instance.node,
    "locked": Instance.locked,
}
ADMIN_SORT_KEYS = {"host", "node"}
STATUSES = {
    "ACTIVE",
    "BUILD",
    "DELETED",
    "ERROR",
    "HARD_REBOOT",
    "MIGRATING",
    "PASSWORD",
    "PAUSED",
    "REBOOT",
    "REBUILD",
    "RESCUE",
    "RESIZE",
    "REVERT_RESIZE",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "SHUTOFF",
    "SOFT_DELETED",
    "SUSPENDED",
    "UNKNOWN",
    "VERIFY_RESIZE",
}


def _state_pairs() -> dict[str, dict[VmState, set[TaskState | None]]]:
    """status -> vm_state -> the task states showing it (from ``states.status``)."""
    table: dict[str, dict[VmState, set[TaskState | None]]] = defaultdict(lambda: defaultdict(set))
    for vm in VmState:
        for task in (None, *TaskState):
            table[states.status(vm, task)][vm].add(task)
    return table


_BY_STATUS = _state_pairs()


def status_clause(status: str) -> sa.ColumnElement[bool]:
    clauses = []
    for vm, tasks in _BY_STATUS.get(status, {}).items():
        named = [t.value for t in tasks if t is not None]
        task_ok = sa.or_(
            Instance.task_state.in_(named),
            Instance.task_state.is_(None) if None in tasks else sa.false(),
        )
        clauses.append(sa.and_(Instance.vm_state == vm.value, task_ok))
    return sa.or_(*clauses) if clauses else sa.false()


def timestamp(req: ApiRequest, name: str) -> dt.datetime | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"Invalid input for query parameters {name}. Value: {raw}.") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class Page:
    instances: list[Instance]
    more: bool


def _scope(req: ApiRequest) -> list[sa.ColumnElement[bool]]:
    ctx, q = req.ctx, req.query
    all_tenants = "all_tenants" in q and q.get("all_tenants", "").lower() not in ("0", "false")
    if all_tenants:
        enforce(ctx.is_admin, "os_compute_api:servers:index:get_all_tenants")
        project = q.get("project_id") or q.get("tenant_id")
        return [Instance.project_id == project] if project else []
    return [Instance.project_id == ctx.project_id]


def _status(req: ApiRequest) -> str | None:
    """The status filter, upper-cased; unknown ones are a 400 from 2.38 (else match none)."""
    raw = req.query.get("status")
    if raw is None:
        return None
    status = raw.upper()
    if status not in STATUSES and since(req, 38):
        raise bad(f"Invalid status value: {raw}")
    return status


def _times(req: ApiRequest, status: str | None) -> list[sa.ColumnElement[bool]]:
    where = []
    changes_since = timestamp(req, "changes-since")
    changes_before = timestamp(req, "changes-before") if since(req, 66) else None
    if changes_since is not None:
        where.append(Instance.updated_at >= changes_since)
    if changes_before is not None:
        where.append(Instance.updated_at <= changes_before)
    asked_deleted = req.ctx.is_admin and status == "DELETED"
    if changes_since is None and changes_before is None and not asked_deleted:
        where.append(Instance.vm_state != VmState.DELETED)
    return where


def _equal(req: ApiRequest) -> list[sa.ColumnElement[bool]]:
    q, where = req.query, []
    if q.get("image"):
        where.append(Instance.image_ref == q["image"].rstrip("/").rsplit("/", 1)[-1])
    if q.get("flavor"):
        flavor = q["flavor"].rstrip("/").rsplit("/", 1)[-1]
        where.append(Instance.flavor["id"].as_string() == flavor)
    columns = {"reservation_id": Instance.reservation_id, "key_name": Instance.key_name}
    if req.ctx.is_admin:  # Nova ignores these from others
        columns |= {"host": Instance.host, "node": Instance.node, "user_id": Instance.user_id}
    where.extend(column == q[key] for key, column in columns.items() if q.get(key))
    locked = query_bool(req, "locked") if since(req, 73) else None
    if locked is not None:
        where.append(Instance.locked.is_(locked))
    return where


def _filters(req: ApiRequest) -> list[sa.ColumnElement[bool]]:
    status = _status(req)
    where = [*_scope(req), *_times(req, status), *_equal(req)]
    if status is not None:
        where.append(status_clause(status))
    return where


def _order(req: ApiRequest) -> list[sa.UnaryExpression[Any]]:
    keys = req.query.getlist("sort_key") or ["created_at"]
    dirs = req.query.getlist("sort_dir")
    order = []
    for i, key in enumerate(keys):
        direction = dirs[i] if i < len(dirs) else (dirs[0] if dirs else "desc")
        if key not in SORT_KEYS or direction not in ("asc", "desc"):
            raise bad(f"Invalid sort_key or sort_dir: {key} {direction}")
        if key in ADMIN_SORT_KEYS and not req.ctx.is_admin:
            enforce(False, "os_compute_api:servers:index")
        column = SORT_KEYS[key]
        order.append(column.asc() if direction == "asc" else column.desc())
    return [*order, Instance.id.desc()]


def _tag_match(tags: list[str], req: ApiRequest) -> bool:
    q, have = req.query, set(tags)
    for name, test in (
        ("tags", lambda want: want <= have),
        ("tags-any", lambda w: bool(w & have)),
        ("not-tags", lambda w: not w <= have),
        ("not-tags-any", lambda w: not w & have),
    ):
        if q.get(name) and not test(set(q[name].split(","))):
            return False
    return True


def _name_pattern(req: ApiRequest) -> re.Pattern[str] | None:
    raw = req.query.get("name")
    if raw is None:
        return None
    try:
        return re.compile(raw)
    except re.error:
        raise bad(f"Invalid input for query parameters name. Value: {raw}.") from None


async def run(req: ApiRequest, s: AsyncSession) -> Page:
    limit = page_limit(req, state_of(req).settings.max_list_limit)
    pattern = _name_pattern(req)
    query = sa.select(Instance.id, Instance.name, Instance.tags).where(*_filters(req))
    rows = (await s.execute(query.order_by(*_order(req)))).all()
    ids = [
        row.id
        for row in rows
        if (pattern is None or pattern.search(row.name)) and _tag_match(row.tags or [], req)
    ]
    marker = req.query.get("marker")
    if marker is not None:
        if marker not in ids:
            raise marker_not_found(marker)
        ids = ids[ids.index(marker) + 1 :]
    chosen = ids[:limit]
    found = {i.id: i for i in await s.scalars(sa.select(Instance).where(Instance.id.in_(chosen)))}
    return Page([found[i] for i in chosen], more=len(ids) > limit)

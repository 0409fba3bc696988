"""Quota limits (defaults from settings, per-project overrides in ``quota_limits``),
usage counted from the instance table, and the instance quota check of server create.

Checks and the rows they protect are serialised per project inside this process, so
concurrent creates in one API process cannot overshoot; several API processes may still
race by a few instances (Nova's counting quotas have the same window).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.errors import OverQuota
from stratus.compute.models import Instance, KeyPair, QuotaLimit, ServerGroup
from stratus.compute.states import VmState

if TYPE_CHECKING:
    from stratus.compute.api.state import ComputeApiState

_locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)


@asynccontextmanager
async def project_lock(project_id: str) -> AsyncIterator[None]:
    async with _locks[project_id]:
        yield


async def limits_of(st: ComputeApiState, s: AsyncSession, project_id: str) -> dict[str, int]:
    limits = st.settings.default_quotas()
    rows = await s.execute(
        sa.select(QuotaLimit.resource, QuotaLimit.hard_limit).where(
            QuotaLimit.project_id == project_id
        )
    )
    limits.update({resource: limit for resource, limit in rows})
    return limits


def live(project_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(Instance.project_id == project_id, Instance.vm_state != VmState.DELETED)


async def usage_of(s: AsyncSession, project_id: str, user_id: str | None) -> dict[str, int]:
    row = (
        await s.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(Instance.flavor["vcpus"].as_integer()), 0),
                sa.func.coalesce(sa.func.sum(Instance.flavor["memory_mb"].as_integer()), 0),
            ).where(live(project_id))
        )
    ).one()
    groups = await s.scalar(sa.select(sa.func.count()).where(ServerGroup.project_id == project_id))
    pairs = 0
    if user_id is not None:
        pairs = await s.scalar(sa.select(sa.func.count()).where(KeyPair.user_id == user_id)) or 0
    return {
        "instances": int(row[0]),
        "cores": int(row[1]),
        "ram": int(row[2]),
        "server_groups": groups or 0,
        "key_pairs": pairs,
    }


async def allowed_count(
    st: ComputeApiState,
    s: AsyncSession,
    project_id: str,
    per_instance: dict[str, int],
    *,
    min_count: int,
    max_count: int,
    limits: dict[str, int] | None = None,
) -> int:
    """How many of ``min_count``..``max_count`` instances fit, or Nova's 403 (``limits``:
    the project's, if the caller has read them already)."""
    if limits is None:
        limits = await limits_of(st, s, project_id)
    if all(limits[r] < 0 or each <= 0 for r, each in per_instance.items()):
        return max_count  # nothing to count against
    used = await usage_of(s, project_id, None)
    fits = max_count
    for resource, each in per_instance.items():
        limit = limits[resource]
        if limit >= 0 and each > 0:
            fits = min(fits, (limit - used[resource]) // each)
    if fits >= min_count:
        return fits
    overs = [
        r
        for r, each in per_instance.items()
        if limits[r] >= 0 and used[r] + each * min_count > limits[r]
    ]
    over = overs[0]
    raise OverQuota(
        "compute.quota.exceeded",
        f"Quota exceeded for {over}: Requested {per_instance[over] * max_count}, but already "
        f"used {used[over]} of {limits[over]} {over}",
    )

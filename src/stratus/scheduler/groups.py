"""A request's server group as the database knows it: policy, rules and members' hosts.

The conductor sends the policy and members' hosts in the request; reading them here too
makes the scheduler right even when the request was built from stale data.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from stratus.common.db import Database
from stratus.compute.models import Instance, ServerGroup
from stratus.scheduler.request import ANTI_AFFINITY, PlacementRequest

DELETED = "deleted"


async def add_group_members(db: Database, req: PlacementRequest) -> None:
    group_id = req.spec.server_group_id
    if group_id is None:
        return
    async with db.session() as session:
        group = await session.get(ServerGroup, group_id)
        hosts = await session.scalars(
            sa.select(Instance.host).where(
                Instance.server_group_id == group_id,
                Instance.host.is_not(None),
                Instance.vm_state != DELETED,
                Instance.id.not_in(req.spec.instance_ids),
            )
        )
        members = Counter(h for h in hosts.all() if h)
    req.known_members |= members
    if group is None:
        return
    req.group_policy = req.group_policy or group.policy
    if req.group_policy == ANTI_AFFINITY:
        req.max_per_host = _max_per_host(group.rules)


def _max_per_host(rules: dict[str, object]) -> int:
    value = rules.get("max_server_per_host", 1)
    try:
        return max(int(str(value)), 1)
    except ValueError:
        return 1

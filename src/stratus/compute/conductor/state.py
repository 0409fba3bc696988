"""What every conductor workflow works with: the database, the bus, settings, a clock."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database
from stratus.common.db.types import utcnow
from stratus.common.errors import NotFound
from stratus.common.rpc import Bus, Cast
from stratus.compute import rpc
from stratus.compute.models import ComputeNode, Instance
from stratus.compute.settings import ComputeSettings
from stratus.scheduler import rpc as scheduler_rpc

log = logging.getLogger(__name__)


@dataclass
class Conductor:
    db: Database
    bus: Bus
    settings: ComputeSettings
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    # the image service (Glance v2) agents upload snapshots to
    image_url: str = ""

    async def to_agent(self, host: str, msg: Cast) -> bool:
        """Cast to one host's agent; ``False`` (logged) if the bus would not take it."""
        try:
            await self.bus.cast(rpc.AGENT_TOPIC, msg, host=host)
        except Exception as exc:
            log.warning("cannot send %s to host %s: %s", msg.wire_name, host, exc)
            return False
        return True

    async def release_claim(self, instance_id: str, host: str | None) -> None:
        """Give the scheduler back what it claimed for the instance on ``host``."""
        if host is None:
            return
        msg = scheduler_rpc.ReleaseClaim(instance_id=instance_id, host=host)
        try:
            await self.bus.cast(scheduler_rpc.SCHEDULER_TOPIC, msg)
        except Exception as exc:
            log.warning("cannot release the claim of %s on %s: %s", instance_id, host, exc)

    def is_up(self, node: ComputeNode | None) -> bool:
        """A host is up while its agent reported within ``agent_down_after`` seconds."""
        if node is None or node.forced_down:
            return False
        age = (self.clock() - node.last_seen).total_seconds()
        return age <= self.settings.agent_down_after

    async def host_is_up(self, s: AsyncSession, host: str | None) -> bool:
        return host is not None and self.is_up(await s.get(ComputeNode, host))


async def locked_instance(s: AsyncSession, instance_id: str) -> Instance:
    """The instance row, locked for this transaction where the database can."""
    row = await s.scalar(select(Instance).where(Instance.id == instance_id).with_for_update())
    if row is None:
        raise NotFound("compute.instance.not_found", f"instance {instance_id} not found")
    return row

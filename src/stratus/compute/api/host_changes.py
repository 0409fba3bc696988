"""Tell every scheduler that hosts' aggregates, zones or services changed, so the next
placement uses them rather than waiting for the scheduler's periodic reload."""

from __future__ import annotations

import logging

from stratus.common.rpc import Bus, BusUnavailable
from stratus.scheduler.rpc import SCHEDULER_TOPIC, HostsChanged

log = logging.getLogger(__name__)


async def announce_host_change(bus: Bus) -> None:
    """Best effort: the change is committed already, and schedulers reload on their own
    every ``scheduler.refresh_interval``."""
    try:
        await bus.fanout(SCHEDULER_TOPIC, HostsChanged())
    except BusUnavailable as exc:
        log.warning("schedulers not told of a host change (they reload on their own): %s", exc)

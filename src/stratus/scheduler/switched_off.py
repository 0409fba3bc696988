"""Hosts an operator switched off through os-services, which records it in the registry.

The compute API may disable a compute service or force it down either in
``compute_nodes`` or in the registry's service record (``SetServiceState``); the
scheduler honours both. The registry is asked once per full reload; if it does not
answer, the scheduler goes on with what ``compute_nodes`` says.
"""

from __future__ import annotations

import logging

from stratus.common.errors import StratusError
from stratus.common.rpc import Bus
from stratus.registry.rpc import TOPIC, ListServices

log = logging.getLogger(__name__)

ASK_TIMEOUT = 5.0  # seconds: a slow registry must not hold a reload for long


class RegistrySwitches:
    def __init__(self, bus: Bus, binaries: list[str]) -> None:
        self._bus = bus
        self._binaries = binaries

    async def hosts_switched_off(self) -> frozenset[str]:
        """Hosts whose compute service is disabled or forced down in the registry."""
        off: set[str] = set()
        for binary in self._binaries:
            try:
                listed = await self._bus.call(
                    TOPIC, ListServices(binary=binary), timeout=ASK_TIMEOUT
                )
            except StratusError as exc:
                log.debug("registry not asked about %s: %s", binary, exc)
                continue
            off.update(s.host for s in listed.services if s.disabled or s.forced_down)
        return frozenset(off)

"""One SelectHosts decision: filter, weigh, choose, claim; and ReleaseClaim.

Each instance of a request is placed in turn on the in-memory view (no SQL in the hot
path); its claim is applied to the view before the first ``await``, then recorded in the
database (``claims.py``). If another scheduler took the room meanwhile, that host is
re-read and the instance placed again, up to ``claim_attempts`` times. When nothing fits
and the view is older than ``reload_on_miss_after`` seconds (or holds no host at all), it
is reloaded once (a host that registered a moment ago counts) before answering with the
per-filter explanation.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

from stratus.scheduler.claims import ClaimOutcome
from stratus.scheduler.explain import explain
from stratus.scheduler.filters import run_filters
from stratus.scheduler.host_state import Claim, HostView
from stratus.scheduler.request import PlacementRequest
from stratus.scheduler.rpc import FilterReport, RequestSpec, Selection
from stratus.scheduler.settings import SchedulerSettings
from stratus.scheduler.weighers import choose, weigh

log = logging.getLogger(__name__)


class ClaimStore(Protocol):
    """Where claims are recorded for good (the database; memory in the benchmark)."""

    async def claim(self, claim: Claim) -> ClaimOutcome: ...

    async def release(self, instance_id: str, host: str) -> Claim | None: ...

    async def resize(self, claim: Claim) -> Claim | None:
        """The claim as it was before it became ``claim``; ``None``: no room."""
        ...


class HostSource(Protocol):
    """Reloads the view from the database (all hosts, or one after a lost claim)."""

    async def reload(self, view: HostView, *, unless_loaded_since: float | None = None) -> None: ...

    async def reload_host(self, view: HostView, name: str) -> None: ...

    async def add_group_members(self, req: PlacementRequest) -> None: ...


@dataclass
class Placement:
    claim: Claim | None
    reports: list[FilterReport] = field(default_factory=list)
    total: int = 0


class HostSelector:
    def __init__(
        self,
        view: HostView,
        store: ClaimStore,
        source: HostSource,
        settings: SchedulerSettings,
        rng: random.Random | None = None,
    ) -> None:
        self.view = view
        self._store = store
        self._source = source
        self._settings = settings
        self._rng = rng or random.Random()

    async def select(self, spec: RequestSpec) -> Selection:
        req = PlacementRequest.of(spec)
        await self._source.add_group_members(req)
        placed: list[Claim] = []
        last = Placement(None)
        for instance_id in spec.instance_ids:
            last = await self._place_fresh(instance_id, req)
            if last.claim is None:
                break
            placed.append(last.claim)
            req.placed[last.claim.host] += 1
        hosts = {c.instance_id: c.host for c in placed}
        if len(placed) == len(spec.instance_ids):
            return Selection(hosts=hosts, filters=last.reports)
        reason = explain(last.total, last.reports)
        if len(placed) < spec.min_count:
            for claim in placed:
                await self.release(claim.instance_id, claim.host)
            log.info("no host for %s: %s", spec.instance_ids, reason)
            return Selection(filters=last.reports, reason=reason)
        return Selection(hosts=hosts, filters=last.reports, reason=reason)

    async def reload(self) -> None:
        """Re-read every host now (an admin changed aggregates or removed a host)."""
        await self._source.reload(self.view)

    async def _place_fresh(self, instance_id: str, req: PlacementRequest) -> Placement:
        found = await self._place(instance_id, req)
        if found.claim is None:
            since = time.monotonic() - self._settings.reload_on_miss_after
            if found.total == 0:  # no host at all yet: the first ones may just have come
                since = time.monotonic()
            if self.view.loaded_at < since:
                await self._source.reload(self.view, unless_loaded_since=since)
                found = await self._place(instance_id, req)
        return found

    async def _place(self, instance_id: str, req: PlacementRequest) -> Placement:
        s = self._settings
        found = Placement(None)
        for _ in range(s.claim_attempts):
            states = self.view.states
            group_id = req.spec.server_group_id
            req.count_members(None if group_id is None else states.group_hosts.get(group_id))
            survivors, reports = run_filters(states.hosts, req)
            found = Placement(None, reports, len(states.hosts))
            if not survivors:
                return found
            best = choose(survivors, weigh(survivors, req, s), s.host_subset_size, self._rng)
            claim = Claim(instance_id, best.name, req.amounts, group_id)
            if await self._record(claim):
                found.claim = claim
                return found
            await self._source.reload_host(self.view, best.name)
        return Placement(None, found.reports, found.total)

    async def _record(self, claim: Claim) -> bool:
        """Claim in the view at once, then in the store; ``False``: the host was full."""
        self.view.apply(claim)
        try:
            outcome = await self._store.claim(claim)
        except BaseException:
            self.view.abandon(claim)
            raise
        if outcome is ClaimOutcome.CLAIMED:
            self.view.committed(claim)
            return True
        self.view.abandon(claim)  # already held: the view counts it from the database
        return outcome is ClaimOutcome.ALREADY_HELD

    async def resize(self, claim: Claim) -> bool:
        """A resize on the instance's own host: its claim there becomes ``claim``."""
        old = await self._store.resize(claim)
        if old is None:
            return False
        self.view.released(old)
        self.view.apply(claim)
        self.view.committed(claim)
        return True

    async def release(self, instance_id: str, host: str) -> bool:
        claim = await self._store.release(instance_id, host)
        if claim is None:
            return False
        self.view.released(claim)
        return True

"""Account and container metadata as the proxy reads it, kept for a few seconds.

ACLs, TempURL keys and CORS rules live in account and container metadata. Reading them
from the container servers on every object GET of a shared container would double the
cost of the read, so each proxy keeps what it read for ``ttl`` seconds (Swift keeps the
same "info" in memcache). The price is staleness, bounded by ``ttl``: a change made
through another proxy (a revoked ACL, a rotated TempURL key) takes effect here up to
``ttl`` seconds later. A write through this proxy drops its entry at once. Only definite
answers are kept (exists or 404): a failed lookup is asked again next time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, ...]  # (account,) or (account, container)


@dataclass(frozen=True, slots=True)
class Info:
    """What an account or container HEAD said: ``status`` (2xx exists, 404 does not,
    anything else: could not tell) and the headers, lower-case names."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return 200 <= self.status < 300

    def get(self, name: str) -> str:
        return self.headers.get(name, "")


class InfoCache:
    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Key, tuple[float, Info]] = {}

    def get(self, key: Key) -> Info | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self._clock():
            del self._entries[key]
            return None
        return found[1]

    def put(self, key: Key, info: Info) -> None:
        if self.ttl <= 0 or not (info.exists or info.status == 404):
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:  # the oldest entry goes first
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock() + self.ttl, info)

    def forget(self, account: str, container: str | None = None) -> None:
        """Drop a container's entry, or an account's (its containers' entries stay)."""
        self._entries.pop((account,) if container is None else (account, container), None)

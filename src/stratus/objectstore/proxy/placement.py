"""Which storage nodes a request goes to: ring primaries first, then handoffs, skipping
nodes that keep failing.

The rings come as zero-argument callables (``lambda: loader.ring``) so a reloaded ring
file takes effect on the next request. The ``ErrorLimiter`` remembers nodes that failed
recently: after ``threshold`` errors (or one fatal error, e.g. an unmounted disk) a node
is skipped for ``suppression`` seconds, so one dead server does not cost every request a
connect timeout.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from stratus.objectstore.ring.devices import Device
from stratus.objectstore.ring.ring import Ring

NodeKey = tuple[str, int, str]


def node_key(dev: Device) -> NodeKey:
    return (dev.ip, dev.port, dev.device)


def quorum(replicas: int) -> int:
    """A majority: two writes that both reached a quorum share at least one replica."""
    return replicas // 2 + 1


@dataclass(frozen=True, slots=True)
class Rings:
    object: Callable[[], Ring]
    container: Callable[[], Ring]
    account: Callable[[], Ring]


class ErrorLimiter:
    """Counts errors per node; a node over the threshold is left alone for a while."""

    def __init__(
        self,
        *,
        threshold: int = 10,
        suppression: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.suppression = suppression
        self._clock = clock
        self._errors: dict[NodeKey, tuple[int, float]] = {}

    def record(self, dev: Device, *, fatal: bool = False) -> None:
        key = node_key(dev)
        count, _ = self._current(key)
        self._errors[key] = (self.threshold + 1 if fatal else count + 1, self._clock())

    def limited(self, dev: Device) -> bool:
        count, _ = self._current(node_key(dev))
        return count > self.threshold

    def _current(self, key: NodeKey) -> tuple[int, float]:
        """Errors older than the suppression interval are forgotten."""
        count, last = self._errors.get(key, (0, 0.0))
        if count and self._clock() - last >= self.suppression:
            del self._errors[key]
            return 0, 0.0
        return count, last


@dataclass(frozen=True, slots=True)
class Placement:
    """One name's partition on one ring, and the nodes to try for it."""

    ring: Ring
    partition: int
    limiter: ErrorLimiter

    @property
    def replicas(self) -> int:
        return self.ring.replicas

    @property
    def quorum(self) -> int:
        return quorum(self.ring.replicas)

    def primaries(self) -> list[Device]:
        return self.ring.primaries(self.partition)

    def nodes(self, limit: int | None = None) -> Iterator[Device]:
        """Primaries that are not error-limited, then handoffs, at most ``limit`` in all
        (default: twice the replica count, Swift's ``request_node_count``)."""
        limit = 2 * self.ring.replicas if limit is None else limit
        every = itertools.chain(self.ring.primaries(self.partition), self.handoffs())
        usable = (d for d in every if not self.limiter.limited(d))
        return itertools.islice(usable, limit)

    def handoffs(self) -> Iterator[Device]:
        return self.ring.handoffs(self.partition)


def best_status(statuses: Iterable[int], needed: int) -> int | None:
    """The status a quorum of replicas agrees on by class (2xx, 3xx, 4xx), the most
    common one within that class; ``None`` when no class reaches ``needed`` (Swift then
    answers 503). Unreachable nodes count as 0 and never agree with anything."""
    listed = list(statuses)
    for klass in (2, 3, 4):
        same = [s for s in listed if s // 100 == klass]
        if len(same) >= needed:
            return Counter(same).most_common(1)[0][0]
    return None

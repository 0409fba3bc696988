"""A daemon as a service: one pass (``run_once``) every ``interval`` seconds.

Replicators, the auditor, the updater and the expirer all share this shape: a pass that
walks local devices or queues, then a sleep. Each one is a ``Service`` without an HTTP API,
so ``stratus up`` runs them beside the servers and ``stratus serve object-replicator``
runs one anywhere. A pass that fails is logged and the next one starts on time: a daemon
never dies of one bad file. The first pass starts after a random part of the interval, so
many nodes started together do not all sweep at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod

from stratus.common.db import MigrationSet
from stratus.common.service import CatalogEntry, Runtime

log = logging.getLogger(__name__)


class PeriodicDaemon(ABC):
    """Subclasses set ``name`` and implement ``setup`` and ``run_once``."""

    name: str
    catalog: tuple[CatalogEntry, ...] = ()

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.passes = 0  # completed passes, for logs and tests

    def migrations(self) -> tuple[MigrationSet, ...]:
        return ()

    @abstractmethod
    def interval(self, runtime: Runtime) -> float:
        """Seconds between the starts of two passes."""

    @abstractmethod
    async def setup(self, runtime: Runtime) -> None:
        """Build what the passes need (rings, clients); called once from ``start``."""

    @abstractmethod
    async def run_once(self) -> None:
        """One complete pass; may raise (logged, and the next pass runs anyway)."""

    async def teardown(self) -> None:
        """Release what ``setup`` built."""
        return None

    async def start(self, runtime: Runtime) -> None:
        await self.setup(runtime)
        every = self.interval(runtime)
        self._task = asyncio.create_task(self._loop(every, random.uniform(0, every)))

    def wake(self) -> None:
        """Start the next pass now (``SIGHUP``-like nudge; tests use it too)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.teardown()

    async def _loop(self, every: float, first_delay: float) -> None:
        await self._sleep(first_delay)
        while True:
            started = time.monotonic()
            try:
                await self.run_once()
                self.passes += 1
                log.info(
                    "%s pass %d done in %.2fs", self.name, self.passes, time.monotonic() - started
                )
            except Exception:
                log.exception("%s pass failed", self.name)
            await self._sleep(max(0.0, every - (time.monotonic() - started)))

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

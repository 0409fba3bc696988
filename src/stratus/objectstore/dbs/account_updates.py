"""Container servers telling account servers a container's timestamps and counts.

Two triggers, as in Swift: a container PUT or DELETE from the proxy names the account
replicas in ``X-Account-Host``/``-Device``/``-Partition`` and is reported to them at
once (a 404 from every account means the account does not exist); and object rows
changing the counts are reported a moment later, coalesced per container, to the account
replicas an ``AccountLocator`` (normally the account ring) names. A report that fails is
not retried here: the next change, or the container updater daemon, sends it again, and
the account keeps whichever report was measured last (``X-Backend-Stats-Timestamp``).

The client is a few lines of HTTP/1.1 over asyncio streams: the runtime has no HTTP
client dependency, and a report is one request with no body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from stratus.common.errors import InvalidInput
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.storage.timestamp import Timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccountTarget:
    host: str
    port: int
    device: str
    partition: int


@dataclass(frozen=True, slots=True)
class ContainerReport:
    account: str
    container: str
    put_timestamp: Timestamp
    delete_timestamp: Timestamp
    stats_timestamp: Timestamp
    object_count: int
    bytes_used: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Put-Timestamp": self.put_timestamp.internal,
            "X-Delete-Timestamp": self.delete_timestamp.internal,
            "X-Backend-Stats-Timestamp": self.stats_timestamp.internal,
            "X-Object-Count": str(self.object_count),
            "X-Bytes-Used": str(self.bytes_used),
        }


class AccountLocator(Protocol):
    def locate(self, account: str) -> list[AccountTarget]: ...


class RingAccountLocator:
    """The account ring's primaries for an account (the ring may be reloaded anytime)."""

    def __init__(self, ring: Callable[[], Ring]) -> None:
        self.ring = ring

    def locate(self, account: str) -> list[AccountTarget]:
        ring = self.ring()
        part = ring.partition(account)
        return [AccountTarget(d.ip, d.port, d.device, part) for d in ring.primaries(part)]


def targets_from_headers(headers: Mapping[str, str]) -> list[AccountTarget]:
    """``X-Account-Host: ip:port,ip:port`` with as many ``X-Account-Device`` names."""
    hosts = [h.strip() for h in headers.get("x-account-host", "").split(",") if h.strip()]
    devices = [d.strip() for d in headers.get("x-account-device", "").split(",") if d.strip()]
    if not hosts:
        return []
    part = headers.get("x-account-partition", "")
    if len(hosts) != len(devices) or not part.isdigit():
        raise InvalidInput("objectstore.request.invalid", "Bad X-Account-* headers")
    targets = []
    for host, device in zip(hosts, devices, strict=True):
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise InvalidInput("objectstore.request.invalid", f"Bad X-Account-Host {host!r}")
        targets.append(AccountTarget(name.strip("[]"), int(port), device, int(part)))
    return targets


async def send_report(
    target: AccountTarget,
    report: ContainerReport,
    timeout: float,  # noqa: ASYNC109 - per target, so one slow account fails alone
) -> int:
    """PUT the report; the status, or 0 if the account server could not be reached."""
    path = "/".join(
        quote(p, safe="")
        for p in (target.device, str(target.partition), report.account, report.container)
    )
    lines = [f"PUT /{path} HTTP/1.1", f"Host: {target.host}:{target.port}"]
    lines += [f"{k}: {v}" for k, v in report.headers().items()]
    lines += ["Content-Length: 0", "Connection: close", "", ""]
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(target.host, target.port)
            try:
                writer.write("\r\n".join(lines).encode("latin-1"))
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        return int(status_line.split()[1])
    except (OSError, TimeoutError, ValueError, IndexError) as exc:
        log.warning("account update to %s:%s failed: %r", target.host, target.port, exc)
        return 0


async def report_to(
    targets: list[AccountTarget],
    report: ContainerReport,
    timeout: float,  # noqa: ASYNC109 - passed on per target
) -> list[int]:
    return list(await asyncio.gather(*(send_report(t, report, timeout) for t in targets)))


class AccountReporter:
    """Coalesces count changes per container and reports them after ``delay`` seconds."""

    def __init__(
        self, locator: AccountLocator | None, *, delay: float = 0.5, timeout: float = 5.0
    ) -> None:
        self.locator = locator
        self.delay = delay
        self.timeout = timeout
        self._dirty: dict[object, Callable[[], Awaitable[ContainerReport | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    def changed(
        self, key: object, measure: Callable[[], Awaitable[ContainerReport | None]]
    ) -> None:
        if self.locator is None:
            return
        self._dirty[key] = measure
        if self._task is None:
            self._task = asyncio.ensure_future(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.delay)
            while self._dirty:
                batch, self._dirty = self._dirty, {}
                for measure in batch.values():
                    await self._report(measure)
        finally:
            self._task = None

    async def _report(self, measure: Callable[[], Awaitable[ContainerReport | None]]) -> None:
        assert self.locator is not None
        try:
            report = await measure()
            if report is not None:
                await report_to(self.locator.locate(report.account), report, self.timeout)
        except Exception:  # a report must never take the server down; the next one retries
            log.exception("account report failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

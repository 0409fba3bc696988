"""Service records in the registry's table: heartbeats, listings, state changes, deletes."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from stratus.common.db import Database
from stratus.common.db.types import utcnow
from stratus.common.errors import NotFound
from stratus.registry.models import ServiceRecord
from stratus.registry.rpc import DeleteService, Heartbeat, ServiceInfo, SetServiceState

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


class ServiceRecords:
    """``down_after`` seconds without a heartbeat and a service is reported down."""

    def __init__(self, db: Database, down_after: float, clock: Clock = utcnow) -> None:
        self._db = db
        self._down_after = dt.timedelta(seconds=down_after)
        self._clock = clock

    async def heartbeat(self, hb: Heartbeat) -> None:
        """Record that ``hb.binary`` on ``hb.host`` is alive, creating its row the first time.

        Two first heartbeats may race to insert the same row: the loser of the insert gets
        a unique-constraint error and updates the winner's row instead.
        """
        now = self._clock()
        if await self._touch(hb, now):
            return
        try:
            async with self._db.session() as session:
                session.add(
                    ServiceRecord(
                        host=hb.host,
                        binary=hb.binary,
                        topic=hb.topic,
                        version=hb.software_version,
                        report_count=1,
                        created_at=now,
                        last_seen=now,
                    )
                )
            log.info("service %s on %s registered", hb.binary, hb.host)
        except IntegrityError:
            if not await self._touch(hb, now):
                raise

    async def _touch(self, hb: Heartbeat, now: dt.datetime) -> bool:
        stmt = (
            sa.update(ServiceRecord)
            .where(ServiceRecord.host == hb.host, ServiceRecord.binary == hb.binary)
            .values(
                topic=hb.topic,
                version=hb.software_version,
                last_seen=now,
                report_count=ServiceRecord.report_count + 1,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._db.session() as session:
            result = await session.execute(stmt)
        assert isinstance(result, sa.CursorResult)
        return result.rowcount > 0

    async def find(
        self, *, host: str | None = None, binary: str | None = None
    ) -> list[ServiceInfo]:
        query = sa.select(ServiceRecord).order_by(ServiceRecord.host, ServiceRecord.binary)
        if host is not None:
            query = query.where(ServiceRecord.host == host)
        if binary is not None:
            query = query.where(ServiceRecord.binary == binary)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        now = self._clock()
        return [self._info(row, now) for row in rows]

    async def set_state(self, change: SetServiceState) -> ServiceInfo:
        query = sa.select(ServiceRecord).where(
            ServiceRecord.host == change.host, ServiceRecord.binary == change.binary
        )
        async with self._db.session() as session:
            row = (await session.scalars(query.with_for_update())).one_or_none()
            if row is None:
                raise NotFound(
                    "registry.service.not_found",
                    f"no service {change.binary} is registered on host {change.host}",
                )
            if change.disabled is not None:
                row.disabled = change.disabled
                if not change.disabled:
                    row.disabled_reason = None
            if change.disabled_reason is not None:
                row.disabled_reason = change.disabled_reason
            if change.forced_down is not None:
                row.forced_down = change.forced_down
        log.info(
            "service %s on %s: disabled=%s forced_down=%s",
            row.binary,
            row.host,
            row.disabled,
            row.forced_down,
        )
        return self._info(row, self._clock())

    async def delete(self, gone: DeleteService) -> ServiceInfo:
        query = sa.select(ServiceRecord).where(
            ServiceRecord.host == gone.host, ServiceRecord.binary == gone.binary
        )
        async with self._db.session() as session:
            row = (await session.scalars(query.with_for_update())).one_or_none()
            if row is None:
                raise NotFound(
                    "registry.service.not_found",
                    f"no service {gone.binary} is registered on host {gone.host}",
                )
            info = self._info(row, self._clock())
            await session.delete(row)
        log.info("service %s on %s deleted", gone.binary, gone.host)
        return info

    def _info(self, row: ServiceRecord, now: dt.datetime) -> ServiceInfo:
        up = not row.forced_down and now - row.last_seen <= self._down_after
        return ServiceInfo(
            id=row.id,
            host=row.host,
            binary=row.binary,
            topic=row.topic,
            version=row.version,
            disabled=row.disabled,
            disabled_reason=row.disabled_reason,
            forced_down=row.forced_down,
            report_count=row.report_count,
            created_at=row.created_at,
            last_seen=row.last_seen,
            up=up,
        )

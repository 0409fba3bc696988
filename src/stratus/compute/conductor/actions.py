"""Instance action events: every step the conductor takes, with its host and result.

The API writes the instance action (one per request); the conductor adds events to it
and finishes them. A request that reached the conductor another way (a host report's
cleanup, a test) gets its action created here, so no step goes unrecorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db.types import utcnow
from stratus.compute.models import Instance, InstanceAction, InstanceActionEvent

SUCCESS = "Success"
ERROR = "Error"


async def _action(s: AsyncSession, inst: Instance, request_id: str, action: str) -> InstanceAction:
    found = await s.scalar(
        select(InstanceAction)
        .where(InstanceAction.instance_id == inst.id, InstanceAction.request_id == request_id)
        .order_by(InstanceAction.id.desc())
        .limit(1)
    )
    if found is None:
        found = InstanceAction(
            instance_id=inst.id, request_id=request_id, action=action,
            project_id=inst.project_id, user_id=inst.user_id,
        )  # fmt: skip
        s.add(found)
        await s.flush()
    return found


async def start(
    s: AsyncSession,
    inst: Instance,
    request_id: str,
    action: str,
    event: str,
    *,
    host: str | None,
) -> None:
    """Open ``event`` on the request's action (``action`` names it if it must be created)."""
    act = await _action(s, inst, request_id, action)
    s.add(InstanceActionEvent(action_id=act.id, event=event, host=host))
    act.updated_at = utcnow()


async def finish(
    s: AsyncSession,
    inst: Instance,
    request_id: str,
    event: str,
    *,
    ok: bool,
    host: str | None = None,
    detail: str | None = None,
    action: str = "unknown",
) -> None:
    """Close the open ``event`` of the request (opening it first if it never was)."""
    act = await _action(s, inst, request_id, action)
    open_event = await s.scalar(
        select(InstanceActionEvent)
        .where(
            InstanceActionEvent.action_id == act.id,
            InstanceActionEvent.event == event,
            InstanceActionEvent.finish_time.is_(None),
        )
        .order_by(InstanceActionEvent.id.desc())
        .limit(1)
    )
    if open_event is None:
        open_event = InstanceActionEvent(action_id=act.id, event=event, host=host)
        s.add(open_event)
    open_event.finish_time = utcnow()
    open_event.result = SUCCESS if ok else ERROR
    open_event.traceback = detail
    if not ok:
        act.message = ERROR
    act.updated_at = utcnow()


async def hosts_tried(s: AsyncSession, instance_id: str, event: str) -> list[str]:
    """Hosts where ``event`` failed for this instance (a retry avoids them)."""
    rows = await s.scalars(
        select(InstanceActionEvent.host)
        .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
        .where(
            InstanceAction.instance_id == instance_id,
            InstanceActionEvent.event == event,
            InstanceActionEvent.result == ERROR,
        )
    )
    return sorted({h for h in rows if h})


def fault(message: str, details: str | None, now: dt.datetime, code: int = 500) -> dict[str, Any]:
    """An instance fault as Nova shows it under ``fault``."""
    return {"code": code, "message": message, "details": details or "", "created": now.isoformat()}

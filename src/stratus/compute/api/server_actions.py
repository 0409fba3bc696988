"""Starting an action on a server: the one place the state machine is applied.

``start_action`` checks the lock, asks ``states.begin`` for the task state, and moves the
row there with a conditional UPDATE on (vm_state, task_state) as read: of two concurrent
requests only one matches the row, the other gets the same 409 as a plain refusal.
Then it records the instance action and casts to the conductor, which owns every later
write. A cast the bus refuses puts the task state back, so nothing is left half-started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.asgi.routing import ApiRequest
from stratus.common.db.types import utcnow
from stratus.common.errors import Conflict, Unavailable
from stratus.common.rpc import BusUnavailable, Cast
from stratus.compute import states
from stratus.compute.api.server_views import load_server
from stratus.compute.api.state import state_of
from stratus.compute.conductor_rpc import DeleteServer, ServerAction
from stratus.compute.models import Instance, InstanceAction
from stratus.compute.rpc import CONDUCTOR_TOPIC
from stratus.compute.states import Action, TaskState, VmState


@dataclass
class Started:
    instance: Instance
    task_state: TaskState | None
    extra: dict[str, Any] = field(default_factory=dict)


def check_lock(req: ApiRequest, inst: Instance) -> None:
    """A locked server refuses every action but from an admin (Nova: 409)."""
    if inst.locked and not req.ctx.is_admin:
        raise Conflict("compute.instance.locked", f"Instance {inst.id} is locked")


async def record_action(s: AsyncSession, req: ApiRequest, inst: Instance, name: str) -> None:
    s.add(
        InstanceAction(
            instance_id=inst.id,
            request_id=req.ctx.request_id,
            action=name,
            project_id=inst.project_id,
            user_id=req.ctx.user_id or "",
        )
    )


_MOVE_ATTEMPTS = 5  # a row that keeps moving under us is a conflict after all


async def _move(
    s: AsyncSession, inst: Instance, action: Action, values: dict[str, Any]
) -> TaskState | None:
    """Apply ``begin`` and the conditional UPDATE. When the row moved meanwhile (the
    conductor went on from scheduling to spawning, say), decide again on what it is now:
    ``begin`` raises ``ActionConflict`` if the action is no longer allowed, which is how
    two concurrent actions never both start."""
    for _ in range(_MOVE_ATTEMPTS):
        vm = VmState(inst.vm_state)
        old = TaskState(inst.task_state) if inst.task_state else None
        new = states.begin(action, inst.id, vm, old)
        same_task = Instance.task_state.is_(None) if old is None else Instance.task_state == old
        moved = await s.execute(
            sa.update(Instance)
            .where(Instance.id == inst.id, Instance.vm_state == vm.value, same_task)
            .values(task_state=new, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            return new
        await s.refresh(inst)
    now = TaskState(inst.task_state) if inst.task_state else None
    raise states.ActionConflict(action, inst.id, VmState(inst.vm_state), now)


async def start_action(
    req: ApiRequest,
    server_id: str,
    action: Action,
    name: str,
    *,
    params: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    token: str | None = None,
) -> Started:
    """Begin ``action`` (recorded as instance action ``name``) and cast it to the conductor.

    ``values``: columns to set with the task state (e.g. ``new_flavor`` of a resize).
    ``token``: the caller's, for an action the conductor carries out in their name.
    """
    st = state_of(req)
    async with st.db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
        check_lock(req, inst)
        task = await _move(s, inst, action, values or {})
        await record_action(s, req, inst, name)
        previous = inst.task_state
    msg: Cast
    if action in (Action.DELETE, Action.FORCE_DELETE):
        msg = DeleteServer(
            instance_id=inst.id, force=action == Action.FORCE_DELETE, request_id=req.ctx.request_id
        )
    else:
        msg = ServerAction(instance_id=inst.id, action=action, params=params or {},
                           request_id=req.ctx.request_id, auth_token=token)  # fmt: skip
    try:
        await st.bus.cast(CONDUCTOR_TOPIC, msg)
    except BusUnavailable as exc:
        await _undo(req, inst.id, task, previous)
        raise Unavailable("compute.conductor.unavailable", str(exc)) from None
    return Started(inst, task)


async def _undo(
    req: ApiRequest, instance_id: str, task: TaskState | None, previous: str | None
) -> None:
    async with state_of(req).db.session() as s:
        await s.execute(
            sa.update(Instance)
            .where(Instance.id == instance_id, Instance.task_state == task)
            .values(task_state=previous)
        )

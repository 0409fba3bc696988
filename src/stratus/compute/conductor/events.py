"""Where an agent's ``InstanceEvent`` goes: the workflow the instance's task state names."""

from __future__ import annotations

import logging

from stratus.common.context import RequestContext
from stratus.common.errors import NotFound
from stratus.compute import rpc
from stratus.compute.conductor import (
    build,
    delete,
    migrate,
    plugging,
    power,
    rebuild,
    resize,
    snapshot,
)
from stratus.compute.conductor.state import Conductor
from stratus.compute.models import Instance
from stratus.compute.states import TaskState

log = logging.getLogger(__name__)
E = rpc.Event
T = TaskState


async def on_instance_event(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    async with c.db.session() as s:
        inst = await s.get(Instance, ev.instance_id)
        task = inst.task_state if inst is not None else None
    if inst is None:
        log.info("event %s from %s for unknown instance %s", ev.event, ev.host, ev.instance_id)
        return
    try:
        await _route(c, ctx, ev, task)
    except NotFound:
        log.info("instance %s vanished while handling %s", ev.instance_id, ev.event)


async def _route(
    c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent, task: str | None
) -> None:
    match ev.event, task:
        case ((E.BUILT | E.BUILD_FAILED), T.RESIZE_MIGRATING):
            await resize.on_spawned(c, ctx, ev)
        case ((E.BUILT | E.BUILD_FAILED), T.REBUILD_SPAWNING):
            await rebuild.on_spawned(c, ctx, ev)
        case E.BUILT, _:
            if await build.on_built(c, ctx, ev):
                await plugging.check(c, ev.instance_id)
        case E.BUILD_FAILED, _:
            await build.on_failed(c, ctx, ev)
        case ((E.ACTION_DONE | E.ACTION_FAILED), (T.RESIZE_CONFIRMING | T.RESIZE_REVERTING)):
            await resize.on_finished_in_place(c, ctx, ev)
        case E.DESTROYED, T.RESIZE_CONFIRMING | T.RESIZE_REVERTING:
            await resize.on_destroyed(c, ctx, ev)
        case E.DESTROYED, T.REBUILDING:
            await rebuild.on_destroyed(c, ctx, ev)
        case E.DESTROYED, _:
            await delete.on_destroyed(c, ctx, ev)
        case ((E.MIGRATED | E.ACTION_FAILED), T.MIGRATING):
            await migrate.on_migrated(c, ctx, ev)
        case event, _ if event in snapshot.EVENTS:
            await snapshot.on_event(c, ctx, ev)
        case E.ACTION_DONE | E.ACTION_FAILED, _:
            await power.on_action(c, ctx, ev)
        case E.POWER_CHANGED, _:
            await power.on_power_changed(c, ev)
        case _:
            log.info("ignoring %s of %s in task state %s", ev.event, ev.instance_id, task)

"""Create image (snapshot): the server's host writes its disk into the image the API made.

The API created the image record (queued, owned by the server's project) with the
caller's token and set ``image_snapshot``; this workflow casts ``SnapshotInstance`` to
the host with that token, and follows the agent's events: ``SNAPSHOT_TAKEN`` →
``image_pending_upload``, ``IMAGE_UPLOADING`` → ``image_uploading``, then the task state
is cleared and the ``compute_snapshot_instance`` event finished, ok or with the error.
The vm state never changes, so a failure leaves the server as it was.

Events may arrive out of order (several conductors share the topic): the task state only
moves forward, so a late step never undoes a later one.
"""

from __future__ import annotations

import logging

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.conductor import actions
from stratus.compute.conductor.state import Conductor, locked_instance
from stratus.compute.conductor_rpc import ServerAction
from stratus.compute.image_upload import ImageUpload, UploadError
from stratus.compute.states import Action, TaskState

log = logging.getLogger(__name__)

SNAPSHOT = "compute_snapshot_instance"
E, T = rpc.Event, TaskState
# the task states of a snapshot, in the order they follow each other
STEPS = (T.IMAGE_SNAPSHOT, T.IMAGE_PENDING_UPLOAD, T.IMAGE_UPLOADING)
_STEP_OF = {E.SNAPSHOT_TAKEN: T.IMAGE_PENDING_UPLOAD, E.IMAGE_UPLOADING: T.IMAGE_UPLOADING}
EVENTS = frozenset({*_STEP_OF, E.IMAGE_UPLOADED, E.SNAPSHOT_FAILED})


async def create_image(c: Conductor, msg: ServerAction) -> None:
    image_id = msg.params.get("image_id", "")
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state != T.IMAGE_SNAPSHOT:
            return  # stale: the API sets the task state before casting
        host, disk_format = inst.host, msg.params.get("disk_format") or "qcow2"
        await actions.start(s, inst, msg.request_id, msg.action, SNAPSHOT, host=host)
    if host is None or not image_id or not msg.auth_token:
        problem = "the instance is on no host" if host is None else "no image or token given"
        await _give_up(c, msg, host, problem)
        return
    order = rpc.SnapshotInstance(
        instance_id=msg.instance_id, image_id=image_id, image_url=c.image_url,
        disk_format=disk_format, container_format=msg.params.get("container_format", "bare"),
        token=msg.auth_token,
    )  # fmt: skip
    if not await c.to_agent(host, order):
        await _give_up(c, msg, host, f"host {host} could not be reached")


async def _give_up(c: Conductor, msg: ServerAction, host: str | None, problem: str) -> None:
    """No agent will take the snapshot: delete the image and end the task."""
    image_id = msg.params.get("image_id", "")
    if image_id and msg.auth_token:
        async with ImageUpload(c.image_url, image_id, msg.auth_token, msg.request_id) as image:
            try:
                await image.delete()
            except UploadError as exc:
                log.warning("cannot delete the snapshot image %s: %s", image_id, exc)
    async with c.db.session() as s:
        inst = await locked_instance(s, msg.instance_id)
        if inst.task_state in STEPS:
            inst.task_state = None
        await actions.finish(s, inst, msg.request_id, SNAPSHOT, ok=False, host=host,
                             detail=problem, action=msg.action)  # fmt: skip


async def on_event(c: Conductor, ctx: RequestContext, ev: rpc.InstanceEvent) -> None:
    async with c.db.session() as s:
        inst = await locked_instance(s, ev.instance_id)
        if inst.host != ev.host or inst.task_state not in STEPS:
            return  # stale, or deleted meanwhile (delete took over the task state)
        if ev.power_state:
            inst.power_state = ev.power_state
        step = _STEP_OF.get(ev.event)
        if step is not None:
            if STEPS.index(step) > STEPS.index(T(inst.task_state)):
                inst.task_state = step
            return
        inst.task_state = None
        await actions.finish(s, inst, ctx.request_id, SNAPSHOT, ok=ev.event == E.IMAGE_UPLOADED,
                             host=ev.host, detail=ev.fault, action=Action.SNAPSHOT)  # fmt: skip

"""Create image on this host: the driver writes the disk to a file, the agent uploads it.

Each step is reported to the conductor, which moves the task state on as Nova shows it
(``image_pending_upload`` once the disk is written, ``image_uploading`` while it goes
up) and clears it at the end. A failure deletes the image, as Nova does, so no queued or
half-filled snapshot is left behind. The temporary file is always removed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.agent.host import AgentHost
from stratus.compute.image_upload import ImageUpload, UploadError
from stratus.compute.virt.driver import DriverError, Snapshotting

log = logging.getLogger(__name__)
E = rpc.Event


async def snapshot(agent: AgentHost, ctx: RequestContext, msg: rpc.SnapshotInstance) -> None:
    iid = msg.instance_id
    async with agent.lock(iid):
        path = agent.snapshot_dir / f"{msg.image_id}.disk"
        async with ImageUpload(msg.image_url, msg.image_id, msg.token, ctx.request_id) as upload:
            try:
                await _take_and_upload(agent, ctx, msg, path, upload)
                fault = None
            except (DriverError, UploadError) as exc:
                fault = str(exc)
                log.warning("%s: snapshot of %s into image %s failed: %s", agent.host, iid,
                            msg.image_id, fault)  # fmt: skip
                await _delete(agent, upload)
            finally:
                await asyncio.to_thread(path.unlink, missing_ok=True)
        await _report(agent, ctx, iid, E.SNAPSHOT_FAILED if fault else E.IMAGE_UPLOADED, fault)


async def _take_and_upload(
    agent: AgentHost,
    ctx: RequestContext,
    msg: rpc.SnapshotInstance,
    path: Path,
    upload: ImageUpload,
) -> None:
    driver = agent.driver
    if not (isinstance(driver, Snapshotting) and driver.capabilities.snapshot):
        raise DriverError(f"the {driver.name} driver cannot take snapshots")
    written = await driver.snapshot(msg.instance_id, str(path), disk_format=msg.disk_format)
    await _report(agent, ctx, msg.instance_id, E.SNAPSHOT_TAKEN)
    if written != msg.disk_format:
        await upload.set_formats(written, msg.container_format or "bare")
    await _report(agent, ctx, msg.instance_id, E.IMAGE_UPLOADING)
    await upload.put_file(path)


async def _delete(agent: AgentHost, upload: ImageUpload) -> None:
    try:
        await upload.delete()
    except UploadError as exc:  # it stays queued (or killed), owned by the user
        log.warning("%s: cannot delete the failed snapshot %s: %s", agent.host,
                    upload.image_id, exc)  # fmt: skip


async def _report(
    agent: AgentHost, ctx: RequestContext, iid: str, event: rpc.Event, fault: str | None = None
) -> None:
    ev = rpc.InstanceEvent(instance_id=iid, host=agent.host, event=event,
                           power_state=int(await agent.power_of(iid)), fault=fault)  # fmt: skip
    await agent.emit(ev, ctx)

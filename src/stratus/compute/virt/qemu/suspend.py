"""Suspend and resume: the guest's RAM and devices saved to a file, QEMU ended.

Suspend pauses the guest, migrates it into ``suspended.state`` (an ``exec:`` target:
QEMU 7.2 has no ``file:`` migration URI), and quits; resume starts QEMU with
``-incoming`` from that file, continues the guest and deletes the file. The file is
written under a temporary name, so a half-written state is never taken for a saved one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex

from stratus.compute.virt.driver import DriverError
from stratus.compute.virt.qemu import process
from stratus.compute.virt.qemu.paths import InstancePaths
from stratus.compute.virt.qemu.qmp import QmpClient

MIGRATION_TIMEOUT = 600.0


async def save_to_file(paths: InstancePaths, pid: int, instance_id: str) -> None:
    partial = paths.saved_state.with_suffix(".part")
    async with QmpClient(str(paths.qmp)) as monitor:
        await monitor.execute("stop")
        await monitor.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(partial))}"})
        await _wait_migration(monitor)
        await asyncio.to_thread(os.replace, partial, paths.saved_state)
        with contextlib.suppress(DriverError):  # QEMU may close the monitor first
            await monitor.execute("quit")
    if not await process.wait_gone(pid, instance_id, paths, 30.0):
        await process.kill(paths, instance_id)


async def _wait_migration(monitor: QmpClient) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MIGRATION_TIMEOUT
    while loop.time() < deadline:
        status = (await monitor.execute("query-migrate")).get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            await monitor.execute("cont")
            raise DriverError(f"saving the guest's state failed ({status})")
        await asyncio.sleep(0.1)
    await monitor.execute("migrate_cancel")
    await monitor.execute("cont")
    raise DriverError("saving the guest's state took too long")


async def restore(paths: InstancePaths) -> None:
    """Wait for the incoming state to be loaded, run the guest, drop the file."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MIGRATION_TIMEOUT
    async with QmpClient(str(paths.qmp)) as monitor:
        while (status := (await monitor.execute("query-status")).get("status")) == "inmigrate":
            if loop.time() >= deadline:
                raise DriverError("restoring the guest's state took too long")
            await asyncio.sleep(0.1)
        if status != "running":
            await monitor.execute("cont")
    await asyncio.to_thread(paths.saved_state.unlink, missing_ok=True)

"""The QEMU process of an instance: start it detached, find it again, end it.

A pid alone is not proof (pids are reused): a process counts as the instance's QEMU only
if its command line carries the instance's ``-uuid``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from stratus.compute.virt.driver import DriverError
from stratus.compute.virt.qemu.paths import InstancePaths

LAUNCH_SECONDS = 60.0  # QEMU daemonizes once its devices are set up: seconds, normally


def read_pid(paths: InstancePaths, instance_id: str) -> int | None:
    """The pid of the instance's running QEMU, or None when there is none."""
    try:
        pid = int(paths.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if instance_id.encode() not in cmdline or _is_zombie(pid):
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    """Dead and waiting to be reaped. A killed QEMU's main thread can be a zombie while
    its other threads still exit, holding the disks and the tap: that is not dead yet."""
    try:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
    except (OSError, ValueError):
        return True
    state = status.get("State", "").split()
    return bool(state) and state[0] in ("Z", "X") and int(status.get("Threads", "1")) <= 1


async def launch(argv: list[str], paths: InstancePaths, instance_id: str) -> int:
    """Run QEMU with ``-daemonize``: the launcher exits once the guest is set up, and
    QEMU lives on in its own session, outside the agent's process group.

    The launcher's output goes to a file, not a pipe: the daemon inherits the launcher's
    descriptors for a while, and a pipe would stay open (no EOF) as long as it holds them.
    """
    paths.pidfile.unlink(missing_ok=True)
    paths.qmp.unlink(missing_ok=True)
    output = paths.root / "launch.log"
    with output.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True, cwd=paths.root,
        )  # fmt: skip
    try:
        await asyncio.wait_for(proc.wait(), LAUNCH_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        await kill(paths, instance_id)
        raise DriverError(f"QEMU did not detach within {LAUNCH_SECONDS:.0f}s") from None
    if proc.returncode != 0:
        text = output.read_text(errors="replace").strip()
        raise DriverError(f"QEMU did not start: {text[-500:]}")
    pid = read_pid(paths, instance_id)
    if pid is None:
        raise DriverError("QEMU started but left no live process")
    return pid


async def wait_gone(pid: int, instance_id: str, paths: InstancePaths, seconds: float) -> bool:
    """Whether the process ended within ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while read_pid(paths, instance_id) == pid:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def kill(paths: InstancePaths, instance_id: str) -> None:
    """SIGKILL the instance's QEMU (if any) and wait until it is gone."""
    pid = read_pid(paths, instance_id)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not await wait_gone(pid, instance_id, paths, 30.0):
        raise DriverError(f"QEMU process {pid} survived SIGKILL")

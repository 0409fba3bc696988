"""The dnsmasq processes the agent runs (DHCP per network, router advertisements per
router): found again through their pid files, since they outlive an agent restart, and
stopped with SIGTERM, then SIGKILL if one does not go."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

STOP_WAIT = 5.0  # seconds a dnsmasq gets to exit on SIGTERM


def running(pid_file: Path) -> tuple[int, list[str]] | None:
    """(pid, command line) of the live dnsmasq that writes ``pid_file``, if any: a stale
    file naming a reused pid is not mistaken for it."""
    try:
        pid = int(pid_file.read_text().strip())
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    argv = [a.decode() for a in raw.split(b"\0") if a]
    if not argv or not argv[0].endswith("dnsmasq") or f"--pid-file={pid_file}" not in argv:
        return None
    return pid, argv


async def stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(int(STOP_WAIT / 0.05)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)

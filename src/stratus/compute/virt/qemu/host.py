"""What this host offers, as the scheduler sees it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

from stratus.compute.virt.driver import HostResources
from stratus.compute.virt.qemu.command import Accelerator
from stratus.compute.virt.qemu.disks import run

_versions: dict[str, int] = {}


async def qemu_version(binary: str) -> int:
    """Nova's encoding: major * 1,000,000 + minor * 1,000 + micro (7.2.22 → 7002022)."""
    if binary not in _versions:
        match = re.search(r"version (\d+)\.(\d+)\.(\d+)", await run(binary, "--version"))
        major, minor, micro = (int(g) for g in match.groups()) if match else (0, 0, 0)
        _versions[binary] = major * 1_000_000 + minor * 1_000 + micro
    return _versions[binary]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


async def host_resources(
    host: str, binary: str, state_dir: Path, accel: Accelerator
) -> HostResources:
    disk = await asyncio.to_thread(shutil.disk_usage, state_dir)
    return HostResources(
        hypervisor_type="KVM" if accel.name == "kvm" else "QEMU",
        hypervisor_hostname=host,
        vcpus=os.cpu_count() or 1,
        memory_mb=await asyncio.to_thread(_memory_mb),
        local_gb=disk.total >> 30,
        hypervisor_version=await qemu_version(binary),
    )

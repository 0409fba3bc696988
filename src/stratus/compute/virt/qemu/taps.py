"""Tap devices of an instance's ports: created before QEMU opens them, deleted after.

The tap is named after ``PortSpec.device`` (what the network agent's data plane
expects) and made in the driver's network namespace (``netns.py``), where the agent
plugs it; an existing tap of that name is reused, so a restart needs no cleanup first.
"""

from __future__ import annotations

import asyncio
import os

from stratus.compute.virt.driver import DriverError, PortSpec
from stratus.compute.virt.qemu import netns as ns
from stratus.compute.virt.qemu.disks import run

IFNAME_MAX = 15


def _in_host_namespace(device: str) -> bool:
    return os.path.exists(f"/sys/class/net/{device}")  # a sysfs lookup, never blocks


async def _exists(device: str, netns: str) -> bool:
    if not netns:
        return _in_host_namespace(device)
    if not ns.exists(netns):
        return False  # a deleted namespace took its taps with it
    proc = await asyncio.create_subprocess_exec(
        *ns.ip_argv(netns, "link", "show", "dev", device), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await proc.wait() == 0


def _check(device: str) -> None:
    if not device or len(device) > IFNAME_MAX or "/" in device or device in (".", ".."):
        raise DriverError(f"port tap device name {device!r} is not a valid interface name")


async def plug(ports: tuple[PortSpec, ...], netns: str = "") -> None:
    if ports:
        ns.require(netns)
    for port in ports:
        _check(port.device)
        if not await _exists(port.device, netns):
            await run(*ns.ip_argv(netns, "tuntap", "add", "dev", port.device, "mode", "tap"))
        await run(*ns.ip_argv(netns, "link", "set", "dev", port.device, "up"))


async def unplug(devices: list[str], netns: str = "") -> None:
    """Delete the taps; gone ones are fine (QEMU may have taken them with it)."""
    for device in devices:
        if device and await _exists(device, netns):
            try:
                await run(*ns.ip_argv(netns, "link", "del", "dev", device))
            except DriverError:
                if await _exists(device, netns):
                    raise

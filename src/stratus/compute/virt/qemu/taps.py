"""Tap devices of an instance's ports: created before QEMU opens them, deleted after.

The tap is named after ``PortSpec.device`` (what the network agent's data plane
expects); an existing tap of that name is reused, so a restart needs no cleanup first.
"""

from __future__ import annotations

import os

from stratus.compute.virt.driver import DriverError, PortSpec
from stratus.compute.virt.qemu.disks import run

IFNAME_MAX = 15


def _exists(device: str) -> bool:
    return os.path.exists(f"/sys/class/net/{device}")  # a sysfs lookup, never blocks


def _check(device: str) -> None:
    if not device or len(device) > IFNAME_MAX or "/" in device or device in (".", ".."):
        raise DriverError(f"port tap device name {device!r} is not a valid interface name")


async def plug(ports: tuple[PortSpec, ...]) -> None:
    for port in ports:
        _check(port.device)
        if not _exists(port.device):
            await run("ip", "tuntap", "add", "dev", port.device, "mode", "tap")
        await run("ip", "link", "set", "dev", port.device, "up")


async def unplug(devices: list[str]) -> None:
    """Delete the taps; gone ones are fine (QEMU may have taken them with it)."""
    for device in devices:
        if device and _exists(device):
            try:
                await run("ip", "link", "del", "dev", device)
            except DriverError:
                if _exists(device):
                    raise

"""Which accelerator really works here: boot a probe guest under KVM, else use TCG.

``/dev/kvm`` existing proves nothing (nested or broken KVM can hang a guest forever), so
the probe boots a one-sector "operating system" that writes ``OK`` to the serial port
and halts. Only if that line appears within the timeout is KVM used; anything else
(no device node, QEMU refusing ``accel=kvm``, a hang) falls back to TCG.

A ``/dev/kvm`` served by PVM (the ``kvm_pvm`` module, nested virtualization without
hardware support) runs that sector but hangs an ordinary Linux guest, whose kernel must
be built for PVM: such a host uses TCG without probing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

from stratus.compute.virt.qemu.command import Accelerator

log = logging.getLogger(__name__)

# mov dx,0x3f8; mov al,'O'; out dx,al; mov al,'K'; out dx,al; mov al,10; out dx,al;
# cli; hlt; jmp $-1  — then the boot signature at bytes 510-511
_BOOT_CODE = bytes.fromhex("baf803b04feeb04beeb00aeefaf4ebfd")
PROBE_SECTOR = _BOOT_CODE.ljust(510, b"\0") + b"\x55\xaa"
MARKER = b"OK\n"
PROBE_VERSION = 2  # part of the cache key: a result of an older probe is not reused


async def detect(
    binary: str, mode: str, probe_seconds: float, cache: Path | None = None
) -> Accelerator:
    """``mode`` is ``auto``, ``kvm`` or ``tcg``; ``auto`` probes, once per host boot
    when ``cache`` is given (an agent restart then starts at once)."""
    if mode in ("kvm", "tcg"):
        return Accelerator(mode)
    key = f"{_boot_id()} {binary} v{PROBE_VERSION}"
    if cache is not None:
        found = await asyncio.to_thread(_read_cache, cache, key)
        if found:
            return Accelerator(found)
    accel = await _probe(binary, probe_seconds)
    if cache is not None:
        await asyncio.to_thread(cache.write_text, json.dumps({"key": key, "accel": accel.name}))
    return accel


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _read_cache(cache: Path, key: str) -> str | None:
    try:
        data = json.loads(cache.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("key") == key and data.get("accel") in ("kvm", "tcg")
    return str(data["accel"]) if ok else None


async def _probe(binary: str, probe_seconds: float) -> Accelerator:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        log.info("qemu: /dev/kvm not usable, guests run under TCG")
        return Accelerator("tcg")
    if kvm_is_pvm():
        log.info("qemu: /dev/kvm is PVM's (it runs only PVM guest kernels), guests run under TCG")
        return Accelerator("tcg")
    if await _kvm_boots(binary, probe_seconds):
        log.info("qemu: a KVM probe guest booted, guests run under KVM")
        return Accelerator("kvm")
    log.warning(
        "qemu: /dev/kvm exists but a probe guest did not run in %.0fs; using TCG", probe_seconds
    )
    return Accelerator("tcg")


def kvm_is_pvm(modules: Path = Path("/sys/module")) -> bool:
    """Whether the loaded KVM is PVM's (``/sys/module`` lists the loaded modules)."""
    return (modules / "kvm_pvm").is_dir()


async def _kvm_boots(binary: str, probe_seconds: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="stratus-kvm-probe-") as tmp:
        disk, serial = Path(tmp) / "probe.img", Path(tmp) / "serial"
        disk.write_bytes(PROBE_SECTOR)
        argv = [
            binary, "-machine", "pc,accel=kvm", "-cpu", "host", "-m", "16", "-nodefaults",
            "-display", "none", "-no-user-config", "-sandbox", "on",
            "-drive", f"file={disk},format=raw,if=ide", "-serial", f"file:{serial}",
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            return await asyncio.wait_for(_wait_marker(proc, serial), probe_seconds)
        except TimeoutError:
            return False
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def _wait_marker(proc: asyncio.subprocess.Process, serial: Path) -> bool:
    while proc.returncode is None:
        if await asyncio.to_thread(_has_marker, serial):
            return True
        await asyncio.sleep(0.1)
    return False


def _has_marker(serial: Path) -> bool:
    return serial.exists() and MARKER in serial.read_bytes()

"""The ``qemu`` driver: one ``qemu-system-x86_64`` per instance, driven over QMP.

State lives in files, not in this object: each instance's directory holds its spec,
disks, pidfile, QMP socket and console log, and power states are asked from QEMU
(``query-status``) or read from the process table, so a restarted agent adopts its
guests (``adopt.py``) and a QEMU that died shows as ``SHUTDOWN`` at the next look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from stratus.common.errors import StratusError
from stratus.compute.metadata.config_drive import build_config_drive
from stratus.compute.states import PowerState
from stratus.compute.virt.driver import (
    Capabilities,
    DriverError,
    HostResources,
    InstanceSpec,
)
from stratus.compute.virt.qemu import (
    adopt,
    console,
    disks,
    netns,
    pre_resize,
    process,
    qmp,
    specfile,
    taps,
)
from stratus.compute.virt.qemu.command import Accelerator, qemu_argv
from stratus.compute.virt.qemu.host import host_resources
from stratus.compute.virt.qemu.paths import SOCKET_PATH_MAX, InstancePaths
from stratus.compute.virt.qemu.probe import detect
from stratus.compute.virt.qemu.suspend import restore, save_to_file

log = logging.getLogger(__name__)
P = PowerState

# QEMU run states (QAPI RunState) → Nova power states
_RUN_STATES = {
    "running": P.RUNNING, "paused": P.PAUSED, "suspended": P.SUSPENDED,
    "shutdown": P.SHUTDOWN, "guest-panicked": P.CRASHED, "internal-error": P.CRASHED,
    "io-error": P.CRASHED, "watchdog": P.CRASHED,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class QemuConfig:
    host: str
    state_dir: Path
    binary: str = "qemu-system-x86_64"
    accel: str = "auto"  # auto (probe KVM), kvm, tcg
    kvm_probe_timeout: float = 15.0
    console_max_bytes: int = 1 << 20
    soft_reboot_timeout: float = 60.0
    run_as: str = ""  # a user QEMU drops to once its files and taps are open
    netns: str = ""  # the network namespace of the taps and QEMU (the network agent's)


class QemuDriver:
    """Implements ``Driver``, ``Snapshotting`` and ``Resizing``."""

    name = "qemu"
    capabilities = Capabilities(snapshot=True, resize=True, image_data=True, wait_for_ports=True)

    def __init__(self, config: QemuConfig) -> None:
        self.config = config
        self.accel = Accelerator("tcg")
        self._specs: dict[str, InstanceSpec] = {}
        self._cache = disks.ImageCache(config.state_dir / adopt.CACHE_DIR)
        self._monitor_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def start(self) -> None:
        c = self.config
        if not c.state_dir.is_absolute():
            raise DriverError(f"qemu state dir {c.state_dir} must be an absolute path")
        if "," in str(c.state_dir):
            raise DriverError(f"qemu state dir {c.state_dir} must not contain a comma")
        if len(str(self._paths("0" * 36).qmp)) > SOCKET_PATH_MAX:
            raise DriverError(f"qemu state dir {c.state_dir} is too long for unix sockets")
        if shutil.which(c.binary) is None:
            raise DriverError(f"{c.binary} is not installed")
        await asyncio.to_thread(c.state_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
        if c.run_as:  # QEMU's own user reaches its instance directory (only that one)
            await asyncio.to_thread(c.state_dir.chmod, 0o711)
        self.accel = await detect(c.binary, c.accel, c.kvm_probe_timeout,
                                  c.state_dir / "accel.json")  # fmt: skip
        self._specs = await adopt.scan(c.state_dir)

    async def host_resources(self) -> HostResources:
        return await host_resources(self.config.host, self.config.binary,
                                    self.config.state_dir, self.accel)  # fmt: skip

    def _paths(self, instance_id: str) -> InstancePaths:
        return InstancePaths(self.config.state_dir / instance_id)

    def _spec(self, instance_id: str) -> InstanceSpec:
        try:
            return self._specs[instance_id]
        except KeyError:
            raise DriverError(f"instance {instance_id} is not on host {self.config.host}") from None

    # ---- state --------------------------------------------------------------------

    async def instances(self) -> Mapping[str, PowerState]:
        states = {}
        for iid in list(self._specs):
            states[iid] = await self.power_state(iid)
            await asyncio.to_thread(
                console.trim, self._paths(iid).console, self.config.console_max_bytes
            )
        return states

    async def power_state(self, instance_id: str) -> PowerState:
        paths = self._paths(instance_id)
        if process.read_pid(paths, instance_id) is None:
            return P.SUSPENDED if paths.saved_state.exists() else P.SHUTDOWN
        try:
            status = await self._qmp(instance_id, "query-status")
        except DriverError as exc:  # it died between the two looks, or its monitor hangs
            if process.read_pid(paths, instance_id) is None:
                return P.SHUTDOWN
            log.warning("qemu: %s runs but its monitor does not answer: %s", instance_id, exc)
            return P.RUNNING  # never NOSTATE for a live guest: that reads as "gone"
        return _RUN_STATES.get(str(status.get("status")), P.PAUSED)

    async def _qmp(
        self, instance_id: str, command: str, args: qmp.QmpValue | None = None
    ) -> qmp.QmpValue:
        async with self._monitor_locks[instance_id]:
            result = await qmp.command(str(self._paths(instance_id).qmp), command, args)
        return result if isinstance(result, dict) else {}

    def _pid(self, instance_id: str) -> int | None:
        return process.read_pid(self._paths(instance_id), instance_id)

    # ---- spawn and destroy ---------------------------------------------------------

    async def spawn(self, spec: InstanceSpec) -> None:
        if spec.id in self._specs and self._pid(spec.id) is not None:
            return  # a build message delivered twice: never overwrite a live guest's disk
        if spec.image is None:
            raise DriverError("the qemu driver boots from an image; volumes are not supported")
        paths = self._paths(spec.id)
        await asyncio.to_thread(paths.root.mkdir, mode=0o700, parents=True, exist_ok=True)
        await self._prepare_disks(spec, paths)
        await asyncio.to_thread(specfile.save, spec, paths.spec)
        await self._give_to_qemu_user(paths)
        self._specs[spec.id] = spec
        await self._launch(spec)

    async def _prepare_disks(self, spec: InstanceSpec, paths: InstancePaths) -> None:
        assert spec.image is not None
        if spec.drive_metadata is not None:
            try:
                await build_config_drive(spec.drive_metadata, paths.config_drive)
            except StratusError as exc:
                raise DriverError(f"cannot build the config drive: {exc}") from None
        base, fmt = await self._cache.base_image(spec.image)
        await disks.create_root(paths, base, fmt, spec.flavor.root_gb)
        await disks.create_extra(paths, spec.flavor)
        for prop, target in (("kernel_id", paths.kernel), ("ramdisk_id", paths.ramdisk)):
            other = spec.image.properties.get(prop)
            if other:
                url = spec.image.related_urls.get(other) or disks.related_url(spec.image, other)
                cached = await self._cache.fetch(other, url, spec.image.download_token, None)
                await asyncio.to_thread(_link_or_copy, cached, target)

    async def _give_to_qemu_user(self, paths: InstancePaths) -> None:
        """With ``run_as``, QEMU's user owns the directory (it writes the suspended state
        there) and the disks (QEMU reopens them after a migration)."""
        if self.config.run_as:
            for path in (paths.root, paths.disk, paths.ephemeral, paths.swap):
                if path.exists():
                    await asyncio.to_thread(shutil.chown, path, self.config.run_as)

    async def _launch(self, spec: InstanceSpec, *, incoming: bool = False) -> None:
        paths = self._paths(spec.id)
        c = self.config
        netns.require(c.netns)
        await taps.plug(spec.ports, c.netns)
        argv = qemu_argv(c.binary, spec, paths, self.accel, incoming=incoming,
                         run_as=c.run_as)  # fmt: skip
        argv = netns.exec_argv(c.netns, argv)  # QEMU opens its taps by name, there
        log.info("qemu: starting %s (%s)", spec.id, self.accel.name)
        await process.launch(argv, paths, spec.id)

    async def destroy(self, instance_id: str) -> None:
        paths = self._paths(instance_id)
        spec = self._specs.pop(instance_id, None)
        if spec is None and paths.spec.exists():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                spec = await asyncio.to_thread(specfile.load, paths.spec)
        await process.kill(paths, instance_id)
        if spec is not None:
            await taps.unplug([p.device for p in spec.ports], self.config.netns)
        await asyncio.to_thread(shutil.rmtree, paths.root, ignore_errors=True)
        self._monitor_locks.pop(instance_id, None)

    # ---- power ---------------------------------------------------------------------

    async def reboot(self, instance_id: str, *, hard: bool) -> None:
        """Soft: ACPI power button, and start again once the guest is off (a hard reboot
        if it is not off after ``soft_reboot_timeout``). Hard: kill and start."""
        spec = self._spec(instance_id)
        if not hard and await self.power_state(instance_id) == P.RUNNING:
            if await self._acpi_shutdown(instance_id, self.config.soft_reboot_timeout):
                await self._launch(spec)
                return
            log.info("qemu: %s ignored the ACPI shutdown; rebooting hard", instance_id)
        await process.kill(self._paths(instance_id), instance_id)
        await asyncio.to_thread(self._paths(instance_id).saved_state.unlink, missing_ok=True)
        await self._launch(spec)

    async def _acpi_shutdown(self, instance_id: str, grace: float) -> bool:
        """Press the power button; whether QEMU exited within ``grace`` seconds."""
        pid = self._pid(instance_id)
        if pid is None:
            return True
        with contextlib.suppress(DriverError):
            await self._qmp(instance_id, "system_powerdown")
        return await process.wait_gone(pid, instance_id, self._paths(instance_id), grace)

    async def power_off(self, instance_id: str, *, grace: float) -> None:
        self._spec(instance_id)
        if await self.power_state(instance_id) == P.PAUSED:
            grace = 0.0  # a paused guest cannot see the power button
        if not await self._acpi_shutdown(instance_id, grace):
            log.info("qemu: %s still runs after %.0fs; killing it", instance_id, grace)
            await process.kill(self._paths(instance_id), instance_id)

    async def power_on(self, instance_id: str) -> None:
        spec = self._spec(instance_id)
        if self._pid(instance_id) is not None:
            return
        if self._paths(instance_id).saved_state.exists():
            await self.resume(instance_id)
            return
        await self._launch(spec)

    async def pause(self, instance_id: str) -> None:
        self._running(instance_id)
        await self._qmp(instance_id, "stop")

    async def unpause(self, instance_id: str) -> None:
        self._running(instance_id)
        await self._qmp(instance_id, "cont")

    def _running(self, instance_id: str) -> int:
        self._spec(instance_id)
        pid = self._pid(instance_id)
        if pid is None:
            raise DriverError(f"instance {instance_id} is not running")
        return pid

    async def suspend(self, instance_id: str) -> None:
        """Save RAM and device state to a file and end QEMU (Nova's managed save)."""
        pid = self._running(instance_id)
        paths = self._paths(instance_id)
        async with self._monitor_locks[instance_id]:
            await save_to_file(paths, pid, instance_id)

    async def resume(self, instance_id: str) -> None:
        spec = self._spec(instance_id)
        paths = self._paths(instance_id)
        if self._pid(instance_id) is not None:
            return
        if not paths.saved_state.exists():
            raise DriverError(f"instance {instance_id} is not suspended")
        await self._launch(spec, incoming=True)
        async with self._monitor_locks[instance_id]:
            await restore(paths)

    async def console_output(self, instance_id: str, length: int | None) -> str:
        self._spec(instance_id)
        path, limit = self._paths(instance_id).console, self.config.console_max_bytes
        return await asyncio.to_thread(console.tail, path, length, limit)

    # ---- capabilities --------------------------------------------------------------

    async def snapshot(self, instance_id: str, target_path: str, *, disk_format: str) -> str:
        """``qemu-img convert`` of the overlay (flattened onto its base); a running guest
        is paused meanwhile, so the disk is consistent at the block layer."""
        self._spec(instance_id)
        paused_here = await self.power_state(instance_id) == P.RUNNING
        if paused_here:
            await self._qmp(instance_id, "stop")
        try:
            return await disks.convert(self._paths(instance_id).disk, target_path, disk_format)
        finally:
            if paused_here:
                await self._qmp(instance_id, "cont")

    async def resize(self, spec: InstanceSpec) -> None:
        """Cold: the instance is stopped; its disks grow to ``spec.flavor`` (the old ones
        are kept until ``confirm_resize`` or ``revert_resize``), and its next start uses
        the new vCPUs and memory."""
        resized = replace(self._spec(spec.id), flavor=spec.flavor)
        if self._pid(spec.id) is not None:
            raise DriverError(f"instance {spec.id} must be stopped to be resized")
        paths = self._paths(spec.id)
        await pre_resize.keep(paths)
        await disks.grow_root(paths, resized.flavor.root_gb)
        await disks.create_extra(paths, resized.flavor)
        await asyncio.to_thread(specfile.save, resized, paths.spec)
        await self._give_to_qemu_user(paths)
        self._specs[spec.id] = resized

    async def confirm_resize(self, instance_id: str) -> None:
        self._spec(instance_id)
        await pre_resize.drop(self._paths(instance_id))

    async def revert_resize(self, instance_id: str) -> None:
        """The disks and flavor from before the resize; the instance stays stopped."""
        self._spec(instance_id)
        if self._pid(instance_id) is not None:
            raise DriverError(f"instance {instance_id} must be stopped to revert its resize")
        paths = self._paths(instance_id)
        await pre_resize.restore(paths)
        self._specs[instance_id] = await asyncio.to_thread(specfile.load, paths.spec)
        await self._give_to_qemu_user(paths)


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        target.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, target)

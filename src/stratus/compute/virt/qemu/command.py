"""The ``qemu-system-x86_64`` command line of one instance, built from its spec.

The process gets only what it needs: ``-nodefaults`` (no default NIC, VGA, floppy or
CD-ROM), ``-display none``, ``-sandbox on`` (seccomp), a QMP socket, a pidfile, the serial
console appended to a log file, virtio-blk disks and one virtio-net NIC per port on the
port's tap device, with the port's MAC. ``-daemonize`` detaches QEMU from the agent, so
guests survive an agent restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratus.compute.virt.driver import InstanceSpec
from stratus.compute.virt.qemu.paths import InstancePaths

DEFAULT_CMDLINE = "console=ttyS0 root=/dev/vda"


@dataclass(frozen=True, slots=True)
class Accelerator:
    """``kvm`` or ``tcg`` and the CPU model that goes with it."""

    name: str

    @property
    def cpu(self) -> str:
        return "host" if self.name == "kvm" else "max"


def qemu_argv(
    binary: str,
    spec: InstanceSpec,
    paths: InstancePaths,
    accel: Accelerator,
    *,
    incoming: bool = False,
    run_as: str = "",
) -> list[str]:
    """Everything but the environment; ``incoming`` restores a suspended instance."""
    f = spec.flavor
    argv = [
        binary, "-name", f"guest={spec.id},debug-threads=on", "-uuid", spec.id,
        "-machine", f"pc,accel={accel.name}", "-cpu", accel.cpu,
        "-smp", str(f.vcpus), "-m", str(f.memory_mb),
        "-nodefaults", "-display", "none", "-no-user-config",
        "-sandbox", "on,obsolete=deny,resourcecontrol=deny",  # -daemonize needs setsid
        "-qmp", f"unix:{paths.qmp},server=on,wait=off",
        "-pidfile", str(paths.pidfile), "-daemonize",
        "-chardev", f"file,id=console,path={paths.console},append=on",
        "-serial", "chardev:console",
    ]  # fmt: skip
    argv += _disks(paths, f.ephemeral_gb > 0, f.swap_mb > 0)
    if spec.drive_metadata is not None:  # the config drive: a read-only virtio disk
        argv += ["-drive", f"file={paths.config_drive},format=raw,if=virtio,readonly=on"]
    argv += _kernel(spec, paths)
    for index, port in enumerate(spec.ports):
        argv += [
            "-netdev", f"tap,id=net{index},ifname={port.device},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net{index},mac={port.mac}",
        ]  # fmt: skip
    if run_as:  # QEMU opens disks, taps, socket and log first, then drops to this user
        argv += ["-runas", run_as]
    if incoming:
        argv += ["-incoming", f"exec:cat {paths.saved_state}"]
    return argv


def _disks(paths: InstancePaths, ephemeral: bool, swap: bool) -> list[str]:
    drives = [(paths.disk, "qcow2")]
    if ephemeral:
        drives.append((paths.ephemeral, "raw"))
    if swap:
        drives.append((paths.swap, "raw"))
    argv: list[str] = []
    for index, (path, fmt) in enumerate(drives):
        argv += [
            "-drive", f"file={path},format={fmt},if=none,id=disk{index},cache=writeback,"
            "discard=unmap",
            "-device", f"virtio-blk-pci,drive=disk{index}" + (",bootindex=1" if index == 0 else ""),
        ]  # fmt: skip
    return argv


def _kernel(spec: InstanceSpec, paths: InstancePaths) -> list[str]:
    """Direct kernel boot when the image names a kernel (and maybe a ramdisk)."""
    props = spec.image.properties if spec.image is not None else {}
    if not props.get("kernel_id"):
        return []
    argv = ["-kernel", str(paths.kernel)]
    if props.get("ramdisk_id"):
        argv += ["-initrd", str(paths.ramdisk)]
    return [*argv, "-append", props.get("os_command_line") or DEFAULT_CMDLINE]

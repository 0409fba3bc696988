"""Assemble the guest: a root tree, then a kernel + initramfs pair and a qcow2 disk.

The disk holds an ext4 root filesystem (``mke2fs -d`` fills it from the tree without
root or loop devices) and is booted with the kernel and initramfs given directly to
QEMU (image properties ``kernel_id``/``ramdisk_id``/``os_command_line``), as EC2's
AMI/AKI/ARI triples were: a bootloader would need a partitioned disk written through
a loop device (root only) or GRUB's image tools, which Debian does not provide as
plain files.
"""

from __future__ import annotations

import gzip
import json
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stratus.guestimage import debs, modules, scripts
from stratus.guestimage.cpio import CpioWriter

KERNEL_FILE = "stratus-guest.vmlinuz"
INITRD_FILE = "stratus-guest.initrd"
DISK_FILE = "stratus-guest.qcow2"
MANIFEST_FILE = "stratus-guest.json"
DISK_MB = 64
DISK_CMDLINE = "console=ttyS0 root=/dev/vda"
RAMDISK_CMDLINE = "console=ttyS0"


@dataclass(frozen=True, slots=True)
class GuestImage:
    kernel: Path
    initrd: Path
    disk: Path
    kernel_version: str


def build(out: Path, cache: Path) -> GuestImage:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stratus-guest-") as tmp:
        work = Path(tmp)
        root = work / "root"
        version = _populate(root, work, cache)
        image = GuestImage(out / KERNEL_FILE, out / INITRD_FILE, out / DISK_FILE, version)
        shutil.copy2(work / "vmlinuz", image.kernel)
        _write_initrd(root, image.initrd)
        _write_disk(root, work / "disk.raw", image.disk)
    (out / MANIFEST_FILE).write_text(json.dumps(_manifest(image), indent=2) + "\n")
    return image


def _populate(root: Path, work: Path, cache: Path) -> str:
    kernel_dir = debs.unpack(debs.download(debs.kernel_package(), cache), work / "kernel")
    busybox_dir = debs.unpack(debs.download("busybox-static", cache), work / "busybox")
    dropbear_dir = debs.unpack(debs.download("dropbear-bin", cache), work / "dropbear")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "etc/acpi/PWRF", "dev",
              "proc", "sys", "run", "tmp", "root", "mnt/config", "newroot", "var/log"):  # fmt: skip
        (root / d).mkdir(parents=True, exist_ok=True)
    _install_busybox(root, busybox_dir / "bin" / "busybox")
    _install_dynamic(root, dropbear_dir / "usr/sbin/dropbear", "usr/sbin/dropbear")
    version = _install_kernel(root, kernel_dir, work)
    _write_etc(root)
    return version


def _install_busybox(root: Path, busybox: Path) -> None:
    shutil.copy2(busybox, root / "bin/busybox")
    listing = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    for applet in listing.split():
        link = root / applet
        if applet != "bin/busybox" and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            parent = Path(applet).parent
            up = "../" * len(parent.parts)
            link.symlink_to("busybox" if parent == Path("bin") else up + "bin/busybox")


def _install_dynamic(root: Path, binary: Path, target: str) -> None:
    shutil.copy2(binary, root / target)
    for lib in debs.shared_libraries(binary):
        dest = root / lib.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib.resolve(), dest)


def _install_kernel(root: Path, kernel_dir: Path, work: Path) -> str:
    vmlinuz = sorted((kernel_dir / "boot").glob("vmlinuz-*"))
    if not vmlinuz:
        raise debs.BuildError("the kernel package holds no /boot/vmlinuz-*")
    version = vmlinuz[-1].name.removeprefix("vmlinuz-")
    shutil.copy2(vmlinuz[-1], work / "vmlinuz")
    modules_dir = kernel_dir / "lib/modules" / version
    loaded = []
    for module in modules.load_order(modules_dir):
        guest_path = Path("lib/modules") / version / module.relative_to(modules_dir)
        (root / guest_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(module, root / guest_path)
        loaded.append("/" + str(guest_path))
    (root / "etc/modules.order").write_text("\n".join(loaded) + "\n")
    return version


def _write_etc(root: Path) -> None:
    files = {
        "init": (scripts.INIT, 0o755),
        "etc/inittab": (scripts.INITTAB, 0o644),
        "etc/init.d/rcS": (scripts.RCS, 0o755),
        "etc/stratus-metadata": (scripts.METADATA, 0o644),
        "etc/udhcpc.script": (scripts.UDHCPC, 0o755),
        "etc/acpi/PWRF/00000080": (scripts.POWER_BUTTON, 0o755),
        "etc/passwd": (scripts.PASSWD, 0o644),
        "etc/group": (scripts.GROUP, 0o644),
        "etc/shells": (scripts.SHELLS, 0o644),
        "etc/hostname": ("stratus-guest\n", 0o644),
    }
    for name, (text, mode) in files.items():
        path = root / name
        path.write_text(text)
        path.chmod(mode)
    (root / "root").chmod(0o700)


def _write_initrd(root: Path, target: Path) -> None:
    with gzip.open(target, "wb", compresslevel=6) as raw:
        writer = CpioWriter(raw)  # type: ignore[arg-type]
        writer.tree(root)
        writer.entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
        writer.close()


def _write_disk(root: Path, raw: Path, target: Path) -> None:
    with raw.open("wb") as f:
        f.truncate(DISK_MB << 20)
    debs._run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "stratus-root", "-d", str(root),
               str(raw)])  # fmt: skip
    target.unlink(missing_ok=True)
    debs._run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(target)])


def _manifest(image: GuestImage) -> dict[str, object]:
    """How to upload and boot the outputs (what ``stratus up`` will register)."""
    return {
        "kernel_version": image.kernel_version,
        "kernel": {"file": image.kernel.name, "disk_format": "aki", "container_format": "aki"},
        "ramdisk": {"file": image.initrd.name, "disk_format": "ari", "container_format": "ari"},
        "disk": {
            "file": image.disk.name, "disk_format": "qcow2", "container_format": "bare",
            "properties": {"os_command_line": DISK_CMDLINE},
            "note": "set kernel_id and ramdisk_id to the uploaded kernel and ramdisk",
        },
        "ramdisk_only_cmdline": RAMDISK_CMDLINE,
    }  # fmt: skip

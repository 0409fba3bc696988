"""Kernel modules the guest needs, with everything they depend on.

A module's dependencies are in its ``.modinfo`` section (``depends=a,b``); reading them
from the files avoids needing ``depmod`` and a ``modules.dep`` in the guest, which loads
the modules with plain ``insmod`` in the order computed here.
"""

from __future__ import annotations

from pathlib import Path

# virtio disks and NICs, ext4 (the disk image's root; crc32c is only its soft dependency),
# ISO 9660 (a config drive), the ACPI power button and the input events acpid reads
WANTED = ("virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "ext4", "isofs", "button",
          "evdev")  # fmt: skip


def _name(path: Path) -> str:
    return path.name.removesuffix(".ko").replace("-", "_")


def _depends(path: Path) -> list[str]:
    data = path.read_bytes()
    start = data.find(b"\0depends=")
    if start < 0:
        return []
    value = data[start + 9 : data.index(b"\0", start + 9)].decode()
    return [d.replace("-", "_") for d in value.split(",") if d]


def load_order(modules_dir: Path, wanted: tuple[str, ...] = WANTED) -> list[Path]:
    """The module files to load, dependencies first (built-in ones need no file)."""
    by_name = {_name(p): p for p in modules_dir.rglob("*.ko")}
    order: list[Path] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in by_name:
            return
        seen.add(name)
        for dep in _depends(by_name[name]):
            visit(dep)
        order.append(by_name[name])

    for name in wanted:
        visit(name)
    return order

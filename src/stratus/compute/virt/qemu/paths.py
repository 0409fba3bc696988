"""Where one instance's files live: a directory per instance under the driver's state dir.

Everything QEMU touches for an instance is in it (disks, monitor socket, pidfile,
console log, saved state), so destroy is one ``rmtree`` and adoption after an agent
restart is one directory scan. Unix socket paths are limited to 107 bytes, hence the
short file names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOCKET_PATH_MAX = 107


@dataclass(frozen=True, slots=True)
class InstancePaths:
    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def disk(self) -> Path:
        return self.root / "disk.qcow2"

    @property
    def ephemeral(self) -> Path:
        return self.root / "ephemeral.raw"

    @property
    def swap(self) -> Path:
        return self.root / "swap.raw"

    @property
    def config_drive(self) -> Path:
        return self.root / "config-drive.iso"

    @property
    def kernel(self) -> Path:
        return self.root / "kernel"

    @property
    def ramdisk(self) -> Path:
        return self.root / "ramdisk"

    @property
    def qmp(self) -> Path:
        return self.root / "qmp"

    @property
    def pidfile(self) -> Path:
        return self.root / "pid"

    @property
    def console(self) -> Path:
        return self.root / "console.log"

    @property
    def pre_resize(self) -> Path:
        """What a cold resize changed (disks, spec), kept until it is confirmed or reverted."""
        return self.root / "pre-resize"

    @property
    def saved_state(self) -> Path:
        """The RAM and device state of a suspended instance (``migrate`` to a file)."""
        return self.root / "suspended.state"

"""A ``newc`` cpio archive writer: the format the kernel unpacks an initramfs from.

Written here rather than by running ``cpio`` so that the archive can hold device nodes
(``/dev/console``) and root ownership without the builder being root.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_MAGIC = b"070701"


class CpioWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._inode = 0

    def _pad(self) -> None:
        self._out.write(b"\0" * (-self._out.tell() % 4))

    def entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        self._inode += 1
        encoded = name.encode() + b"\0"
        fields = (self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)  # fmt: skip
        self._out.write(_MAGIC + b"".join(b"%08X" % f for f in fields) + encoded)
        self._pad()
        self._out.write(data)
        self._pad()

    def tree(self, root: Path) -> None:
        """Every directory, file and symlink under ``root``, owned by root."""
        for path in sorted(root.rglob("*")):
            name = str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                self.entry(name, stat.S_IFLNK | 0o777, os.readlink(path).encode())
            elif stat.S_ISDIR(st.st_mode):
                self.entry(name, stat.S_IFDIR | stat.S_IMODE(st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                self.entry(name, stat.S_IFREG | stat.S_IMODE(st.st_mode), path.read_bytes())

    def close(self) -> None:
        self.entry("TRAILER!!!", 0)

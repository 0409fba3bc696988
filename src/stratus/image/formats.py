"""What an image's bytes really are, learnt from its headers while it streams in.

A cloud that trusts ``disk_format`` lets a user upload a qcow2 that names a backing file
(``/etc/shadow``, another tenant's disk) or an external data file, declare it ``raw`` or
``qcow2``, and have a hypervisor host open that file for them. So every upload is
inspected as it streams, and refused when the content is not the declared format or when
a qcow2 points outside itself. Only headers are parsed (the first 64 KiB and the last
512 bytes), from the published format specifications, so inspection costs nothing
extra and needs no temporary copy; ``qemu-img`` is used by the tests to make real images.

Formats: qcow2 (magic ``QFI\\xfb``; version 3 incompatible feature bit 2 means an
external data file), vmdk (sparse extent header ``KDMV`` with an embedded descriptor; only
the self-contained ``monolithicSparse`` and ``streamOptimized`` kinds), vhd (the
``conectix`` footer, at the start of dynamic disks and the end of every disk), vdi
(signature ``0xbeda107f`` at 0x40), iso (``CD001`` at sector 16), and raw, which is
whatever is none of these. aki, ari and ami are raw kernels, ramdisks and disks.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 512
SECTOR = 512

DISK_FORMATS = ("raw", "qcow2", "iso", "aki", "ari", "ami", "vmdk", "vhd", "vdi")
CONTAINER_FORMATS = ("bare", "ami", "aki", "ari", "ovf")
# What each declared format may hold: raw-like formats take raw or ISO content.
ACCEPTED = {
    "raw": {"raw", "iso"},
    "aki": {"raw"},
    "ari": {"raw"},
    "ami": {"raw", "iso"},
    "iso": {"iso"},
    "qcow2": {"qcow2"},
    "vmdk": {"vmdk"},
    "vhd": {"vhd"},
    "vdi": {"vdi"},
}
QCOW2_EXTERNAL_DATA = 1 << 2
VMDK_SELF_CONTAINED = {"monolithicSparse", "streamOptimized"}
_CREATE_TYPE = re.compile(rb'createType\s*=\s*"([^"]*)"')
_EXTENT = re.compile(rb'^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+\w+\s+"([^"]*)"', re.MULTILINE)


class UnsafeImage(ValueError):
    """The content is not what was declared, or could make a host read other files."""


@dataclass(frozen=True, slots=True)
class Inspection:
    format: str
    virtual_size: int


class FormatInspector:
    """Fed every chunk of an upload; ``finish`` says what it was, or raises ``UnsafeImage``."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail = b""
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._tail = (
            (self._tail + chunk)[-TAIL_BYTES:] if len(chunk) < TAIL_BYTES else chunk[-TAIL_BYTES:]
        )
        self.size += len(chunk)

    def finish(self, declared: str) -> Inspection:
        found = self.detect()
        if found.format not in ACCEPTED.get(declared, {declared}):
            raise UnsafeImage(
                f"Image data is {found.format}, not the declared disk_format {declared}"
            )
        return found

    def detect(self) -> Inspection:
        head, size = bytes(self._head), self.size
        if head[:4] == b"QFI\xfb":
            return Inspection("qcow2", _qcow2(head))
        if head[:4] == b"KDMV":
            return Inspection("vmdk", _vmdk(head))
        if head.startswith(b"# Disk DescriptorFile"):
            raise UnsafeImage("A VMDK descriptor file refers to other files")
        if len(head) >= 0x178 and struct.unpack_from("<I", head, 0x40)[0] == 0xBEDA107F:
            return Inspection("vdi", struct.unpack_from("<Q", head, 0x170)[0])
        footer = head[:SECTOR] if head[:8] == b"conectix" else self._tail
        if len(footer) == SECTOR and footer[:8] == b"conectix":
            return Inspection("vhd", struct.unpack_from(">Q", footer, 48)[0])
        if head[:8] == b"vhdxfile":
            return Inspection("vhdx", size)
        if any(head[at : at + 5] == b"CD001" for at in (0x8001, 0x8801, 0x9001)):
            return Inspection("iso", size)
        return Inspection("raw", size)


def _qcow2(head: bytes) -> int:
    if len(head) < 32:
        raise UnsafeImage("Truncated qcow2 header")
    version, backing_offset = struct.unpack_from(">IQ", head, 4)
    if backing_offset != 0:
        raise UnsafeImage("A qcow2 image with a backing file is not allowed")
    if version >= 3:
        if len(head) < 80:
            raise UnsafeImage("Truncated qcow2 header")
        (incompatible,) = struct.unpack_from(">Q", head, 72)
        if incompatible & QCOW2_EXTERNAL_DATA:
            raise UnsafeImage("A qcow2 image with an external data file is not allowed")
    elif version != 2:
        raise UnsafeImage(f"Unknown qcow2 version {version}")
    size: int = struct.unpack_from(">Q", head, 24)[0]
    return size


def _vmdk(head: bytes) -> int:
    if len(head) < 44:
        raise UnsafeImage("Truncated VMDK header")
    capacity, _grain, desc_offset, desc_size = struct.unpack_from("<QQQQ", head, 12)
    start, stop = desc_offset * SECTOR, (desc_offset + desc_size) * SECTOR
    if desc_offset == 0 or stop > len(head):
        raise UnsafeImage("VMDK descriptor missing or beyond the inspected header")
    descriptor = head[start:stop].split(b"\0", 1)[0]
    kind = _CREATE_TYPE.search(descriptor)
    if kind is None or kind.group(1).decode("latin-1") not in VMDK_SELF_CONTAINED:
        found = kind.group(1).decode("latin-1") if kind else "none"
        raise UnsafeImage(f"VMDK createType {found} may refer to other files")
    if len(_EXTENT.findall(descriptor)) != 1:
        raise UnsafeImage("A VMDK image must hold exactly one extent")
    return int(capacity) * SECTOR

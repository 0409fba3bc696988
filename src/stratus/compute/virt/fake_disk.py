"""The disk of a fake instance as an image file: a real qcow2 or raw image.

A snapshot of a simulated server must still be an image a cloud accepts and boots: the
image service inspects uploads against their ``disk_format`` (``image/formats.py``), and
``qemu-img`` must read the file. So the disk holds one line of text at offset 0 (naming
the instance) and is written either raw (that line, padded to whole sectors) or as a
minimal qcow2 version 3 image, laid out the way ``qemu-img create`` lays one out with
64 KiB clusters plus one allocated data cluster:

    cluster 0 header, 1 refcount table, 2 refcount block, 3 L1 table, 4 L2 table, 5 data
"""

from __future__ import annotations

import math
import struct

SECTOR = 512
CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
COPIED = 1 << 63  # L1/L2 entry flag: the cluster's refcount is exactly one
HEADER_LENGTH = 104
L2_ENTRIES = CLUSTER // 8
_REFCOUNT_TABLE, _REFCOUNT_BLOCK, _L1, _L2, _DATA = (n * CLUSTER for n in range(1, 6))
_CLUSTERS = 6


def raw(content: bytes) -> bytes:
    """``content`` padded with zeros to whole 512-byte sectors (at least one)."""
    size = max(SECTOR, math.ceil(len(content) / SECTOR) * SECTOR)
    return content.ljust(size, b"\0")


def qcow2(content: bytes, virtual_size: int) -> bytes:
    """A qcow2 image of ``virtual_size`` bytes whose first cluster holds ``content``."""
    if len(content) > CLUSTER or virtual_size < CLUSTER:
        raise ValueError("content must fit one cluster of a disk at least that large")
    l1_size = math.ceil(virtual_size / (CLUSTER * L2_ENTRIES))
    image = bytearray(_CLUSTERS * CLUSTER)
    struct.pack_into(
        ">4sIQIIQIIQQIIQQQQII",
        image,
        0,
        b"QFI\xfb",
        3,  # version
        0,  # backing file offset: none
        0,  # backing file name length
        CLUSTER_BITS,
        virtual_size,
        0,  # no encryption
        l1_size,
        _L1,
        _REFCOUNT_TABLE,
        1,  # refcount table clusters
        0,  # snapshots
        0,  # snapshots offset
        0,  # incompatible features (no external data file, not dirty)
        0,  # compatible features
        0,  # autoclear features
        4,  # refcount order: 16-bit refcounts
        HEADER_LENGTH,
    )
    struct.pack_into(">Q", image, _REFCOUNT_TABLE, _REFCOUNT_BLOCK)
    for cluster in range(_CLUSTERS):
        struct.pack_into(">H", image, _REFCOUNT_BLOCK + 2 * cluster, 1)
    struct.pack_into(">Q", image, _L1, _L2 | COPIED)
    struct.pack_into(">Q", image, _L2, _DATA | COPIED)
    image[_DATA : _DATA + len(content)] = content
    return bytes(image)

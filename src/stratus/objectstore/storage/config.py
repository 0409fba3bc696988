"""How a node's storage layer behaves; one value passed explicitly, never read globally."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class MetadataStore(enum.StrEnum):
    """Where version metadata goes (see ``metadata.py``)."""

    AUTO = "auto"  # xattr, falling back to a sidecar per file when the filesystem refuses
    XATTR = "xattr"  # xattr only: a refusal is an error (for filesystems known to have them)
    SIDECAR = "sidecar"  # always a sidecar file


@dataclass(frozen=True, slots=True)
class DiskConfig:
    # refuse a device that is not a mount point (a missing disk must not fill the root fs)
    mount_check: bool = False
    # fsync data, metadata and directories before a write is acknowledged
    fsync: bool = True
    metadata_store: MetadataStore = MetadataStore.AUTO
    # bytes gathered from the network before one write() in a worker thread
    write_buffer: int = 1 << 20
    # write bodies larger than one buffer with O_DIRECT, around the page cache (see
    # ``direct_io.py``), wherever the filesystem allows it
    direct_io: bool = False
    # bytes written between fdatasyncs of a large body (with fsync on), so the final fsync
    # stays short: otherwise a 1 GiB object can still be flushing when the proxy's node
    # timeout ends; 0 syncs only at the end
    sync_every: int = 64 << 20
    # bytes per read() when streaming an object out
    read_chunk: int = 1 << 20
    # tombstones older than this many seconds are removed while hashing suffixes
    reclaim_age: float = 7 * 24 * 3600.0

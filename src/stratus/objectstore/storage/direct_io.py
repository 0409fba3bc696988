"""Writing a large body around the page cache (``O_DIRECT``).

A buffered ``write()`` copies every byte into the page cache, and the kernel later
writes those pages out. During a 1 GiB PUT on the development machine that copy
(``copy_folio_from_iter_atomic``) was over a third of the object servers' CPU, paid once
per replica. An ``O_DIRECT`` write hands the device the writer's own buffer instead: no
copy, and no dirty pages to flush. 1 GiB written in 1 MiB ``O_DIRECT`` writes cost
0.07 s of CPU, against 0.2 to 2.4 s buffered.

``O_DIRECT`` wants aligned memory, lengths and offsets. Whole blocks therefore go out from
page-aligned buffers through a second descriptor opened with ``O_DIRECT``, and only the
body's unaligned tail goes through the ordinary one. The final ``fsync`` covers both,
and also flushes the device's write cache. A filesystem that refuses ``O_DIRECT``, at
open or at the first write, gets buffered writes.

It is off by default (``objectstore.direct_io``). On a virtual machine whose host caches
its disk, only what the guest wrote through its page cache lands in the host's cache: the
first read of a body written directly came from the real disk, at a third of the speed
(docs/performance.md). On bare metal a cold read goes to the disk either way.
"""

from __future__ import annotations

import errno
import mmap
import os
from pathlib import Path

ALIGN = 4096  # covers 512-byte and 4 KiB logical blocks
_REFUSED = frozenset({errno.EINVAL, errno.EOPNOTSUPP})


def open_direct(path: Path) -> int | None:
    """A second, ``O_DIRECT`` descriptor for ``path``, or ``None`` where the filesystem
    does not offer it."""
    try:
        return os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in _REFUSED:
            return None
        raise


def aligned_buffer(size: int) -> memoryview:
    """``size`` rounded up to whole blocks of page-aligned memory (anonymous ``mmap``)."""
    return memoryview(mmap.mmap(-1, -(-size // ALIGN) * ALIGN))


def write_all(fd: int, data: memoryview, offset: int) -> None:
    """``data`` at ``offset``, however many ``pwrite`` calls that takes."""
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


def refused(exc: OSError) -> bool:
    """Whether a failed ``O_DIRECT`` write means "not here" rather than a disk error."""
    return exc.errno in _REFUSED

"""The serial console log: QEMU appends to it, the driver keeps it bounded.

QEMU opens the file with ``O_APPEND``, so cutting it down in place (keep the tail, then
truncate) never leaves a hole: QEMU's next write lands at the new end. The driver trims
whenever it looks at an instance (each power sync), so the file stays near the bound.
"""

from __future__ import annotations

from pathlib import Path


def trim(path: Path, max_bytes: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size <= max_bytes:
        return
    keep = max_bytes // 2
    with path.open("r+b") as log:
        log.seek(size - keep)
        tail = log.read()
        # start at a line boundary
        tail = tail[tail.find(b"\n") + 1 :] if b"\n" in tail else tail
        log.seek(0)
        log.write(tail)
        log.truncate(len(tail))


def tail(path: Path, length: int | None, max_bytes: int) -> str:
    """The last ``length`` lines (all when None) of at most ``max_bytes`` of log."""
    try:
        with path.open("rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - max_bytes))
            data = log.read()
    except FileNotFoundError:
        return ""
    text = data.decode(errors="replace").replace("\r\n", "\n")
    lines = text.splitlines()
    if length is not None:
        lines = lines[-length:] if length > 0 else []
    return "\n".join(lines) + "\n" if lines else ""

"""Emptying a partition this device no longer (or never) holds as a primary.

Handoff reversion removes exactly the files that every primary acknowledged, listed
*before* the sync began, never "the partition": a write that lands on this handoff while
the sync runs (the proxy still uses it while a primary is down) is a new file, not in the
list, and stays for the next pass. Directories go only once empty. Blocking: run these in a
worker thread.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from stratus.objectstore.daemons.local_devices import suffixes
from stratus.objectstore.storage.hashdir import cleanup
from stratus.objectstore.storage.hashes import (
    HASHES_FILE,
    HASHING_LOCK_FILE,
    INVALID_FILE,
    LOCK_FILE,
)
from stratus.objectstore.storage.metadata import remove_with_sidecar
from stratus.objectstore.storage.versions import current_versions, hash_dirs

PARTITION_FILES = (HASHES_FILE, INVALID_FILE, LOCK_FILE, HASHING_LOCK_FILE)


def snapshot(partition_dir: Path) -> list[Path]:
    """Every current version file in the partition, as it is now."""
    found = []
    for suffix in suffixes(partition_dir):
        for hash_dir in hash_dirs(partition_dir / suffix):
            found += [hash_dir / v.name for v in current_versions(hash_dir)]
    return found


def remove_reverted(partition_dir: Path, files: list[Path]) -> bool:
    """Remove ``files`` (which the primaries now hold), then whatever they leave empty;
    ``True`` when the partition directory itself is gone."""
    for path in files:
        remove_with_sidecar(path)
    for hash_dir in sorted({p.parent for p in files}):
        cleanup(hash_dir)  # drops leftover sidecars, and the dir once empty
        with contextlib.suppress(OSError):
            hash_dir.parent.rmdir()
    if suffixes(partition_dir):
        return False
    for name in PARTITION_FILES:
        with contextlib.suppress(FileNotFoundError):
            (partition_dir / name).unlink()
    try:
        partition_dir.rmdir()
    except OSError:
        return False  # something arrived meanwhile: the next pass reverts it
    return True

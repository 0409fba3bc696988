"""Blocking operations on one object's hash dir: locking, durable directories, cleanup.

Everything here runs in a worker thread (``asyncio.to_thread``). Writers of one object
serialise on an exclusive ``flock`` of its hash dir, so the "is something newer already
there?" check, the rename and the cleanup are one step; readers take no lock: they open
the newest file they list, and an open file survives a concurrent unlink.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from stratus.objectstore.storage.errors import CorruptObject
from stratus.objectstore.storage.layout import FileName, Listing, classify
from stratus.objectstore.storage.metadata import read_metadata_at, remove_with_sidecar
from stratus.objectstore.storage.timestamp import Timestamp

log = logging.getLogger(__name__)


@contextlib.contextmanager
def flocked(path: Path, *, directory: bool = False) -> Iterator[None]:
    """An exclusive ``flock`` on a directory or a lock file (created if missing)."""
    if directory:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, *, fsync: bool) -> None:
    """``mkdir -p`` that makes each new entry durable in its parent (a rename into a
    directory that vanishes in a crash would lose the object)."""
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        if fsync:
            fsync_dir(directory.parent)


def list_versions(hash_dir: Path) -> tuple[list[str], Listing]:
    try:
        names = os.listdir(hash_dir)
    except (FileNotFoundError, NotADirectoryError):
        names = []
    return names, classify(names)


def content_type_meta(hash_dir: Path, metas: tuple[FileName, ...]) -> FileName | None:
    """The newest ``.meta`` that changed the content type (it outlives newer metas)."""
    for meta in metas:
        try:
            if read_metadata_at(hash_dir / meta.name).content_type is not None:
                return meta
        except (FileNotFoundError, CorruptObject):
            continue
    return None


def cleanup(hash_dir: Path, *, reclaim_before: Timestamp | None = None) -> list[str]:
    """Delete superseded versions (and stray sidecars); return the names that remain.

    Kept: the newest ``.data`` or ``.ts``; above live data, the newest ``.meta`` and the
    newest one that set a content type. A tombstone older than ``reclaim_before`` goes too
    (every replica had the reclaim age to learn of the delete), and then the empty dir.
    """
    names, listing = list_versions(hash_dir)
    doomed = list(listing.obsolete)
    if listing.metas:
        keep = {listing.metas[0], content_type_meta(hash_dir, listing.metas)}
        doomed += [m for m in listing.metas if m not in keep]
    ts = listing.tombstone
    if ts is not None and reclaim_before is not None and ts.timestamp < reclaim_before:
        doomed.append(ts)
    for version in doomed:
        remove_with_sidecar(hash_dir / version.name)
    gone = {v.name for v in doomed}
    kept = [n for n in names if n not in gone]
    kept = _drop_orphan_sidecars(hash_dir, kept, listing)
    if not kept:
        with contextlib.suppress(OSError):
            hash_dir.rmdir()
    return sorted(n for n in kept if not n.startswith("."))


def _drop_orphan_sidecars(hash_dir: Path, names: list[str], listing: Listing) -> list[str]:
    """A sidecar whose file is gone and that is not newer than the object's state is left
    from a crash between the two renames; a newer one may belong to a write in flight."""
    present = set(names)
    kept = []
    for name in names:
        if name.startswith(".") and name.endswith(".json"):
            version = FileName.parse(name[1:-5])
            stale = listing.base is not None and version is not None and version <= listing.base
            if name[1:-5] not in present and (version is None or stale):
                with contextlib.suppress(FileNotFoundError):
                    (hash_dir / name).unlink()
                continue
        kept.append(name)
    return kept


def newest_state(hash_dir: Path) -> FileName | None:
    """The newest ``.data``/``.ts`` (the version a new PUT or DELETE must beat)."""
    return list_versions(hash_dir)[1].base

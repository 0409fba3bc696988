"""Per-partition suffix hashes: how two replicas find which suffix dirs differ.

A suffix's hash is the MD5 of the current file names of each of its hash dirs (after
cleanup), so replicas holding the same versions agree without reading any data. They are
cached in ``<partition>/hashes.json``::

    {"format": 1, "hashes": {"a83": "<md5 hex>", "07f": null}}

``null`` means "must be recalculated". Writers never rewrite that file: after each change
they append the suffix to ``hashes.invalid`` under the short partition lock ``.lock``. A
hasher (one at a time per partition, ``.hashing.lock``) folds ``hashes.invalid`` into the
cache, recalculates outside the short lock, and saves. An invalidation that lands while it
calculates stays in ``hashes.invalid`` and is folded in on the next call, so none is lost.
The cache is replaced only when its content changes: each replacement is a new inode and
a freed one, and ext4 without a journal steps over recently freed inodes one at a time
when it allocates the next file or directory (the replicator and its peers ask for every
partition's hashes on each pass, and most have not changed).

A crash between a version's rename and its invalidation leaves the cache stale for that
suffix until the replicator asks for ``recalculate`` or a full ``listdir`` pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from stratus.objectstore.storage.hashdir import cleanup, flocked
from stratus.objectstore.storage.layout import HASH_RE, SUFFIX_RE
from stratus.objectstore.storage.timestamp import Timestamp

FORMAT = 1
HASHES_FILE = "hashes.json"
INVALID_FILE = "hashes.invalid"
LOCK_FILE = ".lock"
HASHING_LOCK_FILE = ".hashing.lock"

SuffixHashes = dict[str, str | None]


def invalidate(partition_dir: Path, suffix: str) -> None:
    """Record that ``suffix`` changed (blocking; called after each write's rename)."""
    with flocked(partition_dir / LOCK_FILE):
        fd = os.open(partition_dir / INVALID_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{suffix}\n".encode())
        finally:
            os.close(fd)


def suffix_hashes(
    partition_dir: Path,
    recalculate: Iterable[str] = (),
    *,
    listdir: bool = False,
    reclaim_before: Timestamp | None = None,
) -> SuffixHashes:
    """Every suffix's hash, recalculating the invalidated, the requested, and all of them
    when there is no cache yet or ``listdir`` asks for a full scan."""
    if not partition_dir.is_dir():
        return {}
    with flocked(partition_dir / HASHING_LOCK_FILE):
        with flocked(partition_dir / LOCK_FILE):
            hashes, cached = _load(partition_dir)
            saved = dict(hashes)
            invalid = _consume_invalid(partition_dir)
            for suffix in invalid:
                hashes[suffix] = None
            if invalid:  # the marks must outlive a hasher that dies before its save
                _save(partition_dir, hashes)
                saved = dict(hashes)
        if listdir or not cached:
            hashes.update({s: None for s in _suffix_dirs(partition_dir) if s not in hashes})
        todo = {s for s, h in hashes.items() if h is None}
        todo.update(s for s in recalculate if SUFFIX_RE.fullmatch(s))
        for suffix in sorted(todo):
            value = hash_suffix(partition_dir / suffix, reclaim_before)
            if value is None:
                hashes.pop(suffix, None)
            else:
                hashes[suffix] = value
        if hashes != saved or not cached:
            with flocked(partition_dir / LOCK_FILE):
                _save(partition_dir, hashes)
    return hashes


def hash_suffix(suffix_dir: Path, reclaim_before: Timestamp | None) -> str | None:
    """MD5 over ``<hash>:<name>,<name>;`` for each hash dir, in order; ``None`` (and the
    directory removed) when nothing is left in the suffix."""
    digest = hashlib.md5(usedforsecurity=False)
    found = False
    try:
        entries = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return None
    for entry in entries:
        if not HASH_RE.fullmatch(entry):
            continue
        names = cleanup(suffix_dir / entry, reclaim_before=reclaim_before)
        if names:
            found = True
            digest.update(f"{entry}:{','.join(names)};".encode())
    if not found:
        with contextlib.suppress(OSError):
            suffix_dir.rmdir()
        return None
    return digest.hexdigest()


def _suffix_dirs(partition_dir: Path) -> list[str]:
    return [n for n in os.listdir(partition_dir) if SUFFIX_RE.fullmatch(n)]


def _load(partition_dir: Path) -> tuple[SuffixHashes, bool]:
    """The cache, and whether there was a usable one (a bad file means a full scan)."""
    try:
        doc = json.loads((partition_dir / HASHES_FILE).read_bytes())
        raw = doc["hashes"] if doc.get("format") == FORMAT else None
        if not isinstance(raw, dict):
            return {}, False
        return {
            str(k): (v if isinstance(v, str) else None)
            for k, v in raw.items()
            if SUFFIX_RE.fullmatch(str(k))
        }, True
    except (OSError, ValueError, KeyError, AttributeError):
        return {}, False


def _save(partition_dir: Path, hashes: SuffixHashes) -> None:
    """Replace the cache atomically (it is a cache: no fsync, a loss means a rescan)."""
    tmp = partition_dir / f".{HASHES_FILE}.{os.getpid()}.tmp"
    doc = {"format": FORMAT, "hashes": dict(sorted(hashes.items()))}
    tmp.write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    os.replace(tmp, partition_dir / HASHES_FILE)


def _consume_invalid(partition_dir: Path) -> set[str]:
    path = partition_dir / INVALID_FILE
    try:
        with open(path, "r+b") as handle:
            raw = handle.read()
            handle.truncate(0)
    except FileNotFoundError:
        return set()
    return {s for s in raw.decode("ascii", "replace").split() if SUFFIX_RE.fullmatch(s)}

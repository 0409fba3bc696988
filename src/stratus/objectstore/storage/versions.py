"""Which versions a partition holds: what two replicas exchange to find what to send.

Suffix hashes tell the replicator *which* suffix dirs differ; these listings tell it which
files inside them the peer lacks, so only those travel. Only current versions count (the
newest ``.data``/``.ts`` and the ``.meta`` files kept above it), decided by
``layout.classify`` from the names alone, the same on both sides.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from stratus.objectstore.storage.hashdir import list_versions
from stratus.objectstore.storage.layout import HASH_RE, SUFFIX_RE, FileName

# name hash -> file names of its current versions
VersionListing = dict[str, list[str]]


def current_versions(hash_dir: Path) -> list[FileName]:
    """The versions to keep (and send), oldest first: the base, then its ``.meta`` files,
    so a peer installing them in order never sees a ``.meta`` before its data."""
    _, listing = list_versions(hash_dir)
    found = [*listing.metas, listing.base] if listing.base else list(listing.metas)
    return sorted(found)


def hash_dirs(suffix_dir: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [suffix_dir / n for n in names if HASH_RE.fullmatch(n)]


def suffix_versions(partition_dir: Path, suffixes: Iterable[str]) -> VersionListing:
    """Blocking: the current versions of every object in ``suffixes`` of a partition."""
    listing: VersionListing = {}
    for suffix in suffixes:
        if not SUFFIX_RE.fullmatch(suffix):
            continue
        for hash_dir in hash_dirs(partition_dir / suffix):
            names = [v.name for v in current_versions(hash_dir)]
            if names:
                listing[hash_dir.name] = names
    return listing


def newest_base(names: Iterable[str]) -> FileName | None:
    """The newest ``.data`` or ``.ts`` among a peer's listed names."""
    bases = [v for v in map(FileName.parse, names) if v is not None and v.ext != ".meta"]
    return max(bases, default=None)


def superseded_by(version: FileName, base: FileName | None) -> bool:
    """Whether a peer whose base is ``base`` would refuse ``version`` as old news: the
    same rule as ``install.refuse_if_superseded`` for replicated versions."""
    if base is None:
        return False
    return base.timestamp >= version.timestamp

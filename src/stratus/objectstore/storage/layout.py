"""Where an object lives on a device, and which of its files are current.

::

    <devices_root>/<device>/objects/<partition>/<suffix>/<hash>/<timestamp>.data|.ts|.meta
    <devices_root>/<device>/objects/<partition>/hashes.json | hashes.invalid | .lock
    <devices_root>/<device>/tmp/                      temp files of writes in progress
    <devices_root>/<device>/quarantined/objects/<hash>[-<n>]/   corrupt hash dirs

``hash`` is the MD5 of ``/<account>/<container>/<object>`` between a cluster-wide secret
prefix and suffix (so names cannot be chosen to pile onto one directory), ``suffix`` its
last three hex digits (4096 suffix dirs per partition bound each directory's size and are
the unit the replicator compares). A hash dir holds only versions of one object; which of
them count is decided here from the names alone, so every replica agrees.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from stratus.objectstore.storage.timestamp import InvalidTimestamp, Timestamp

DATA, TOMBSTONE, META = ".data", ".ts", ".meta"
_RANK = {DATA: 0, TOMBSTONE: 1, META: 2}  # a tombstone beats data of the same timestamp
SUFFIX_RE = re.compile(r"[0-9a-f]{3}")
HASH_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class ObjectAddress:
    """One object on one device and partition, as the proxy names it."""

    device: str
    partition: int
    account: str
    container: str
    obj: str

    @property
    def name(self) -> str:
        return f"/{self.account}/{self.container}/{self.obj}"


@dataclass(frozen=True, slots=True)
class PathHasher:
    """The cluster-wide secret around object names; it must be the same on every node."""

    prefix: bytes = b""
    suffix: bytes = b""

    def hash_name(self, name: str) -> str:
        raw = name.encode("utf-8", "surrogateescape")
        digest = hashlib.md5(self.prefix + raw + self.suffix, usedforsecurity=False)
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class DevicePaths:
    """The directories of one device (which is itself a directory, normally a mount)."""

    root: Path

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def quarantined(self) -> Path:
        return self.root / "quarantined" / "objects"

    def partition(self, partition: int) -> Path:
        return Path(f"{self.root}/objects/{partition}")

    def hash_dir(self, partition: int, name_hash: str) -> Path:
        # one Path built from one string: joining four parts cost a tenth of a small
        # PUT's Python time in the object server
        return Path(f"{self.root}/objects/{partition}/{name_hash[-3:]}/{name_hash}")


@dataclass(frozen=True, slots=True, order=True)
class FileName:
    """``<timestamp><ext>``, ordered by timestamp then kind."""

    timestamp: Timestamp
    rank: int
    ext: str = field(compare=False)

    @property
    def name(self) -> str:
        return f"{self.timestamp.internal}{self.ext}"

    @classmethod
    def parse(cls, name: str) -> FileName | None:
        """``None`` for anything that is not one of our versions (hidden sidecars, junk)."""
        stem, dot, ext = name.rpartition(".")
        if not dot or f".{ext}" not in _RANK or stem.startswith("."):
            return None
        try:
            ts = Timestamp.parse(stem)
        except InvalidTimestamp:
            return None
        return cls(ts, _RANK[f".{ext}"], f".{ext}")

    @classmethod
    def of(cls, timestamp: Timestamp, ext: str) -> FileName:
        return cls(timestamp, _RANK[ext], ext)


@dataclass(frozen=True, slots=True)
class Listing:
    """A hash dir's versions, sorted out.

    ``base`` is the newest ``.data`` or ``.ts`` (the object's state); ``metas`` are the
    ``.meta`` files newer than live data, newest first; ``obsolete`` can be deleted.
    Without any base, ``.meta`` files are kept: their data may yet arrive by replication.
    """

    base: FileName | None
    metas: tuple[FileName, ...]
    obsolete: tuple[FileName, ...]

    @property
    def data(self) -> FileName | None:
        return self.base if self.base is not None and self.base.ext == DATA else None

    @property
    def tombstone(self) -> FileName | None:
        return self.base if self.base is not None and self.base.ext == TOMBSTONE else None


def classify(names: list[str]) -> Listing:
    """Sort a hash dir's file names into current and obsolete (pure: no I/O)."""
    files = sorted((f for f in map(FileName.parse, names) if f is not None), reverse=True)
    bases = [f for f in files if f.ext != META]
    metas = [f for f in files if f.ext == META]
    if not bases:
        return Listing(None, tuple(metas), ())
    base, older = bases[0], bases[1:]
    if base.ext == TOMBSTONE:
        return Listing(base, (), tuple(older + metas))
    newer = [m for m in metas if m.timestamp > base.timestamp]
    stale = [m for m in metas if m.timestamp <= base.timestamp]
    return Listing(base, tuple(newer), tuple(older + stale))


@dataclass(frozen=True, slots=True)
class ObjectLocation:
    """An object's hash dir on one device, with what is needed to name and account for it."""

    device: DevicePaths
    partition: int
    name_hash: str
    name: str
    hash_dir: Path = field(init=False, repr=False, compare=False)  # built once: used often

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash_dir", self.device.hash_dir(self.partition, self.name_hash))

    @property
    def partition_dir(self) -> Path:
        return self.device.partition(self.partition)

    @property
    def suffix(self) -> str:
        return self.name_hash[-3:]

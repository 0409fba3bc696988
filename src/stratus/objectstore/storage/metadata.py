"""An object version's metadata, stored with the file it describes.

Format (versioned, JSON, never pickle: a device may be read by a newer or older release
and must never execute what it reads)::

    {"format": 1, "name": "/a/c/o", "timestamp": "1700000000.00000",
     "content_length": 5, "etag": "<md5 hex>", "content_type": "text/plain",
     "content_type_timestamp": "1700000000.00000", "user_meta": {"color": "blue"},
     "delete_at": 1800000000, "headers": {"content-disposition": "inline"},
     "sysmeta": {"x-object-sysmeta-slo-size": "5"}, "crc32": 907060870}

Absent keys mean "not set" (a tombstone has only name and timestamp; a ``.meta`` has no
length or ETag). ``headers`` are the other client headers an object keeps
(``Content-Disposition``, ``X-Object-Manifest``...), replaced by a POST like user
metadata; ``sysmeta`` is what the proxy's middleware records (``X-Object-Sysmeta-*``,
``X-Static-Large-Object``), set by a PUT only, so no POST can turn a manifest into data.
``crc32`` is the CRC-32 of the data as the object server wrote it: reads check it instead
of the MD5, which costs eight times as much CPU (the auditor still checks the MD5); data
written before it was recorded has none and is read-checked by its MD5.
Where it lives:

- **xattr** ``user.stratus.meta`` on the file itself, set on the temp file before the
  rename, so data and metadata appear in one atomic step;
- **sidecar** ``.<file name>.json`` next to the file in the hash dir, when the filesystem
  has no user xattrs (tmpfs without them, some network filesystems) or refuses a value that
  large (ext4 keeps all xattrs of an inode in one 4 KiB block). It is renamed into place
  *before* its file, so a visible file always has its metadata; hidden names are ignored by
  ``layout.classify`` and removed with their file.

Readers try the xattr, then the sidecar, so a device may hold both kinds.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from stratus.objectstore.storage.errors import CorruptObject
from stratus.objectstore.storage.timestamp import InvalidTimestamp, Timestamp

FORMAT = 1
XATTR_KEY = "user.stratus.meta"
# errnos meaning "no xattrs here" or "not this big": fall back to the sidecar
_XATTR_REFUSED = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSPC, errno.E2BIG, errno.ERANGE}
_XATTR_ABSENT = {errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ObjectMetadata:
    """What one ``.data``, ``.meta`` or ``.ts`` file says about its object."""

    name: str
    timestamp: Timestamp
    content_length: int | None = None
    etag: str | None = None
    content_type: str | None = None
    content_type_timestamp: Timestamp | None = None
    user_meta: Mapping[str, str] = field(default_factory=dict)
    delete_at: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    sysmeta: Mapping[str, str] = field(default_factory=dict)
    crc32: int | None = None

    def updated(self, **changes: Any) -> ObjectMetadata:
        return replace(self, **changes)

    def to_bytes(self) -> bytes:
        doc: dict[str, object] = {
            "format": FORMAT,
            "name": self.name,
            "timestamp": self.timestamp.internal,
        }
        optional: dict[str, object | None] = {
            "content_length": self.content_length,
            "etag": self.etag,
            "content_type": self.content_type,
            "content_type_timestamp": (
                self.content_type_timestamp.internal if self.content_type_timestamp else None
            ),
            "user_meta": dict(self.user_meta) or None,
            "delete_at": self.delete_at,
            "headers": dict(self.headers) or None,
            "sysmeta": dict(self.sysmeta) or None,
            "crc32": self.crc32,
        }
        doc.update({k: v for k, v in optional.items() if v is not None})
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> ObjectMetadata:
        """Decode, refusing anything malformed or from an unknown format version."""
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise TypeError("unknown metadata format")
            ctype_ts = doc.get("content_type_timestamp")
            meta = cls(
                name=_typed(doc["name"], str),
                timestamp=Timestamp.parse(doc["timestamp"]),
                content_length=_optional(doc.get("content_length"), int),
                etag=_optional(doc.get("etag"), str),
                content_type=_optional(doc.get("content_type"), str),
                content_type_timestamp=Timestamp.parse(ctype_ts) if ctype_ts else None,
                user_meta=_string_map(doc.get("user_meta", {})),
                delete_at=_optional(doc.get("delete_at"), int),
                headers=_string_map(doc.get("headers", {})),
                sysmeta=_string_map(doc.get("sysmeta", {})),
                crc32=_optional(doc.get("crc32"), int),
            )
        except (ValueError, TypeError, KeyError, InvalidTimestamp) as exc:
            raise CorruptObject(where, f"unreadable metadata: {exc}") from exc
        return meta


def _typed(value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _optional(value: object, kind: type[T]) -> T | None:
    return None if value is None else _typed(value, kind)


def _string_map(value: object) -> dict[str, str]:
    mapping = _typed(value, dict)
    return {_typed(k, str): _typed(v, str) for k, v in mapping.items()}


# ---- storage (blocking: call from a worker thread) -----------------------------------


def sidecar_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.json")


def try_set_xattr(fd: int, meta: ObjectMetadata) -> bool:
    """Store on the open file; ``False`` when the filesystem refuses (use a sidecar)."""
    try:
        os.setxattr(fd, XATTR_KEY, meta.to_bytes())
    except OSError as exc:
        if exc.errno in _XATTR_REFUSED:
            return False
        raise
    return True


def write_sidecar(final_path: Path, tmp_dir: Path, meta: ObjectMetadata, fsync: bool) -> None:
    """Write ``.<name>.json`` through a temp file, so it appears whole or not at all."""
    tmp = tmp_dir / f".{final_path.name}.{os.getpid()}.{id(meta):x}.json"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, meta.to_bytes())
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, sidecar_path(final_path))


def read_metadata(fd: int, path: Path) -> ObjectMetadata:
    """The metadata of an open version file: its xattr, else its sidecar."""
    try:
        raw = os.getxattr(fd, XATTR_KEY)
    except OSError as exc:
        if exc.errno not in _XATTR_ABSENT:
            raise
        try:
            raw = sidecar_path(path).read_bytes()
        except FileNotFoundError:
            raise CorruptObject(str(path), "no metadata (xattr or sidecar)") from None
    return ObjectMetadata.from_bytes(raw, str(path))


def read_metadata_at(path: Path) -> ObjectMetadata:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_metadata(fd, path)
    finally:
        os.close(fd)


def remove_with_sidecar(path: Path) -> None:
    """Remove a version, then its sidecar (the reverse of their creation order)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(FileNotFoundError):
        sidecar_path(path).unlink()

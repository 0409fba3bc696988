"""Ring and builder files: a versioned binary format, atomic writes, cheap reloads.

Layout (all integers big-endian)::

    magic  b"STRG"           4 bytes
    kind   b"R" | b"B"       ring or builder
    format u16               FORMAT_VERSION; an unknown one is refused, never guessed
    ring   u64               the ring's version, so a reader can skip an unchanged file
    crc32  u32               of the compressed body
    length u64               of the compressed body
    body   zlib( u32 json-length, json metadata, then per array:
                 typecode (1 byte), u64 item count, items little-endian )

Files are written to a temporary name, fsynced and renamed, so a reader sees the old file
or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import sys
import tempfile
import threading
import time
import zlib
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from stratus.common.errors import InvalidInput
from stratus.objectstore.ring.builder import RingBuilder
from stratus.objectstore.ring.devices import Device
from stratus.objectstore.ring.ring import Ring

log = logging.getLogger(__name__)

MAGIC = b"STRG"
FORMAT_VERSION = 1
RING, BUILDER = b"R", b"B"
_HEADER = struct.Struct(">4scHQIQ")
_ARRAY = struct.Struct(">cQ")
_MAX_BODY = 1 << 31


class RingFileError(InvalidInput):
    """A ring or builder file that is missing, corrupt, or from an unknown format."""


def save_ring(ring: Ring, path: Path) -> None:
    meta = {
        "part_power": ring.part_power,
        "hash_prefix": ring.hash_prefix,
        "hash_suffix": ring.hash_suffix,
        "devices": [d.to_record() for d in ring.devices],
    }
    _write(path, RING, ring.version, meta, list(ring.table()))


def load_ring(path: Path) -> Ring:
    version, meta, arrays = _read(path, RING)
    try:
        return Ring(
            _int(meta["part_power"]),
            arrays,
            [Device.from_record(r) for r in meta["devices"]],  # type: ignore[attr-defined]
            hash_prefix=str(meta["hash_prefix"]),
            hash_suffix=str(meta["hash_suffix"]),
            version=version,
        )
    except (KeyError, TypeError, InvalidInput) as exc:
        raise RingFileError("ring.file.corrupt", f"{path}: {_reason(exc)}") from exc


def save_builder(builder: RingBuilder, path: Path) -> None:
    meta, arrays = builder.to_document()
    _write(path, BUILDER, builder.version, meta, arrays)


def load_builder(path: Path, clock: Callable[[], float] = time.time) -> RingBuilder:
    _, meta, arrays = _read(path, BUILDER)
    try:
        return RingBuilder.from_document(meta, arrays, clock)
    except InvalidInput as exc:
        raise RingFileError("ring.file.corrupt", f"{path}: {exc.message}") from exc


def read_version(path: Path) -> int:
    """The ring version in a file's header, without reading the table."""
    with _open(path) as f:
        return _header(f.read(_HEADER.size), path, RING)[0]


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, InvalidInput) else f"missing or bad field {exc}"


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError("part_power")
    return value


def _write(path: Path, kind: bytes, version: int, meta: object, arrays: list[array[int]]) -> None:
    doc = json.dumps(meta, separators=(",", ":")).encode()
    chunks = [struct.pack(">I", len(doc)), doc]
    for arr in arrays:
        data = arr if sys.byteorder == "little" else _swapped(arr)
        chunks += [_ARRAY.pack(arr.typecode.encode(), len(arr)), data.tobytes()]
    body = zlib.compress(b"".join(chunks), 6)
    header = _HEADER.pack(MAGIC, kind, FORMAT_VERSION, version, zlib.crc32(body), len(body))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header + body)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # readable by every service; mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _swapped(arr: array[int]) -> array[int]:
    copy = array(arr.typecode, arr)
    copy.byteswap()
    return copy


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise RingFileError("ring.file.missing", f"{path}: no such file") from None
    except OSError as exc:
        raise RingFileError("ring.file.unreadable", f"{path}: {exc.strerror}") from None


def _header(raw: bytes, path: Path, kind: bytes) -> tuple[int, int, int]:
    """Check a header; return (ring version, crc32, body length)."""
    if len(raw) < _HEADER.size or raw[:4] != MAGIC:
        raise RingFileError("ring.file.corrupt", f"{path}: not a Stratus ring file")
    _, found, fmt, version, crc, length = _HEADER.unpack(raw[: _HEADER.size])
    if fmt != FORMAT_VERSION:
        raise RingFileError(
            "ring.file.unknown_format",
            f"{path}: format version {fmt}, this Stratus reads {FORMAT_VERSION}",
        )
    if found != kind:
        want = "ring" if kind == RING else "builder"
        raise RingFileError("ring.file.wrong_kind", f"{path}: not a {want} file")
    if length > _MAX_BODY:
        raise RingFileError("ring.file.corrupt", f"{path}: body length {length} is absurd")
    return version, crc, length


def _read(path: Path, kind: bytes) -> tuple[int, dict[str, object], list[array[int]]]:
    with _open(path) as f:
        version, crc, length = _header(f.read(_HEADER.size), path, kind)
        body = f.read(length + 1)
    if len(body) != length or zlib.crc32(body) != crc:
        raise RingFileError("ring.file.corrupt", f"{path}: truncated or damaged (checksum)")
    try:
        meta, arrays = _decode(zlib.decompress(body))
    except (zlib.error, struct.error, ValueError, UnicodeDecodeError) as exc:
        raise RingFileError("ring.file.corrupt", f"{path}: undecodable body ({exc})") from exc
    return version, meta, arrays


def _decode(raw: bytes) -> tuple[dict[str, object], list[array[int]]]:
    (doc_len,) = struct.unpack_from(">I", raw)
    meta = json.loads(raw[4 : 4 + doc_len])
    if not isinstance(meta, dict):
        raise ValueError("metadata is not an object")
    arrays: list[array[int]] = []
    pos = 4 + doc_len
    while pos < len(raw):
        code, count = _ARRAY.unpack_from(raw, pos)
        pos += _ARRAY.size
        if code not in (b"H", b"I"):
            raise ValueError(f"unknown array type {code!r}")
        arr = array(code.decode())
        end = pos + count * arr.itemsize
        if end > len(raw):
            raise ValueError("array runs past the end")
        arr.frombytes(raw[pos:end])
        if sys.byteorder != "little":
            arr.byteswap()
        arrays.append(arr)
        pos = end
    return meta, arrays


class RingLoader:
    """The current ``Ring`` of one file, re-read when the file changes.

    Every process holds one loader per ring and asks it for ``.ring`` on each request.
    That costs a clock read; at most every ``check_interval`` seconds it also costs a
    ``stat``, and only a changed file (mtime, size or inode) with a new ring version in its
    header is loaded. A bad new file is logged and the previous ring kept, so a botched
    push never takes a running cluster down; the first load, at start, fails loudly.
    """

    def __init__(
        self,
        path: Path,
        *,
        check_interval: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = _stamp(path)
        self._ring = load_ring(path)
        self._next_check = clock() + check_interval

    @property
    def ring(self) -> Ring:
        if self._clock() >= self._next_check:
            self.reload()
        return self._ring

    def reload(self) -> bool:
        """Check the file now; return whether a new ring was loaded."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread is checking; use the current ring meanwhile
        try:
            self._next_check = self._clock() + self.check_interval
            return self._reload()
        finally:
            self._lock.release()

    def _reload(self) -> bool:
        try:
            stamp = _stamp(self.path)
            if stamp == self._stamp:
                return False
            if read_version(self.path) == self._ring.version:
                self._stamp = stamp
                return False
            ring = load_ring(self.path)
        except RingFileError as exc:
            log.warning("keeping ring version %d: %s", self._ring.version, exc.message)
            return False
        log.info("loaded %s version %d", self.path, ring.version)
        self._ring, self._stamp = ring, stamp
        return True


def _stamp(path: Path) -> tuple[int, int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise RingFileError("ring.file.missing", f"{path}: {exc.strerror}") from None
    return (st.st_mtime_ns, st.st_size, st.st_ino)

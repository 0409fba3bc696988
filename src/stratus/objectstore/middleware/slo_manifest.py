"""A static large object's manifest: what a client PUTs, what is stored, and its ETag.

The client sends a JSON list of ``{"path", "etag", "size_bytes"[, "range"]}`` (or
``{"data": <base64>}``, a few bytes kept in the manifest itself); once each
segment has been checked, the stored form is Swift's: ``{"name", "bytes", "hash",
"content_type", "last_modified"[, "range"][, "sub_slo"]}``, which ``?multipart-manifest=get``
returns as is and ``&format=raw`` turns back into the PUT form. Parsing here is pure: no
request is made, every problem is reported with the segment's index.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

from stratus.objectstore.proxy.errors import TooLarge, bad_request

_RANGE = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")
_PUT_KEYS = frozenset({"path", "etag", "size_bytes", "range"})


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """One segment as the client listed it (``path`` is ``container/object``)."""

    container: str
    obj: str
    etag: str | None
    size: int | None
    byte_range: str | None
    data: bytes | None = None  # an inline segment: these bytes, no object

    @property
    def display(self) -> str:
        return f"/{self.container}/{self.obj}"


@dataclass(frozen=True, slots=True)
class StoredSegment:
    """One entry of a stored manifest."""

    name: str  # /container/object
    size: int  # the whole segment's size (a sub-SLO's total size)
    etag: str  # the segment's etag (a sub-SLO's SLO etag)
    start: int  # the part of the segment this entry uses
    stop: int
    sub_slo: bool
    data: bytes | None = None

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def has_range(self) -> bool:
        return (self.start, self.stop) != (0, self.size)

    def container_and_object(self) -> tuple[str, str]:
        container, _, obj = self.name.lstrip("/").partition("/")
        return container, obj


def parse_put(body: bytes, max_segments: int) -> list[SegmentSpec]:
    """The client's manifest, checked for shape only (400 on the first problem)."""
    try:
        listed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Manifest must be valid JSON.") from None
    if not isinstance(listed, list):
        raise bad_request("Manifest must be a list.")
    if not listed:
        raise bad_request("Manifest must have at least one segment.")
    if len(listed) > max_segments:
        raise TooLarge(f"Number of segments must be <= {max_segments}")
    return [_segment(i, item) for i, item in enumerate(listed)]


def _segment(index: int, item: object) -> SegmentSpec:
    if not isinstance(item, dict):
        raise bad_request(f"Index {index}: not a JSON object")
    if "data" in item:
        return _inline(index, item)
    extra = set(item) - _PUT_KEYS
    if extra:
        raise bad_request(f"Index {index}: extraneous keys {', '.join(sorted(extra))}")
    path = item.get("path")
    if not isinstance(path, str):
        raise bad_request(f'Index {index}: "path" must be a string')
    container, _, obj = path.lstrip("/").partition("/")
    if not container or not obj:
        raise bad_request(
            f"Index {index}: path does not refer to an object. "
            "Path must be of the form /container/object."
        )
    etag = item.get("etag")
    if etag is not None and not isinstance(etag, str):
        raise bad_request(f'Index {index}: "etag" must be a string or null')
    size = item.get("size_bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise bad_request(f'Index {index}: "size_bytes" must be an integer or null')
    byte_range = item.get("range")
    if byte_range is not None and (
        not isinstance(byte_range, str) or _RANGE.fullmatch(byte_range) is None
    ):
        raise bad_request(f"Index {index}: invalid range")
    clean_etag = etag.strip('"').lower() if etag else None
    return SegmentSpec(container, obj, clean_etag, size, byte_range)


def _inline(index: int, item: dict[str, object]) -> SegmentSpec:
    if len(item) != 1:
        raise bad_request(f"Index {index}: a data segment has no other keys")
    try:
        data = base64.b64decode(str(item["data"]), validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"Index {index}: data must be valid base64") from None
    if not data:
        raise bad_request(f"Index {index}: data segments must not be empty")
    return SegmentSpec("", "", md5_hex(data), len(data), None, data)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def resolve_range(spec: str | None, size: int) -> tuple[int, int] | None:
    """``first-last`` (inclusive, either end optional) within ``size`` bytes as
    ``(start, stop)``; ``None`` when it selects nothing."""
    if spec is None:
        return 0, size
    match = _RANGE.fullmatch(spec)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, stop = max(0, size - int(last)), size
    else:
        start = int(first)
        stop = size if last == "" else min(size, int(last) + 1)
    return (start, stop) if start < stop else None


def slo_etag(segments: list[StoredSegment]) -> str:
    """Swift's: the MD5 of each segment's etag (``etag:first-last;`` for a range), joined."""
    digest = hashlib.md5(usedforsecurity=False)
    for seg in segments:
        if seg.has_range:
            digest.update(f"{seg.etag}:{seg.start}-{seg.stop - 1};".encode())
        else:
            digest.update(seg.etag.encode())
    return digest.hexdigest()


def to_stored(segments: list[StoredSegment], types: list[str], modified: list[str]) -> bytes:
    entries: list[dict[str, object]] = []
    for seg, content_type, last_modified in zip(segments, types, modified, strict=True):
        if seg.data is not None:
            entries.append({"data": base64.b64encode(seg.data).decode("ascii")})
            continue
        entry: dict[str, object] = {
            "name": seg.name,
            "bytes": seg.size,
            "hash": seg.etag,
            "content_type": content_type,
            "last_modified": last_modified,
        }
        if seg.has_range:
            entry["range"] = f"{seg.start}-{seg.stop - 1}"
        if seg.sub_slo:
            entry["sub_slo"] = True
        entries.append(entry)
    return json.dumps(entries).encode()


def parse_stored(body: bytes) -> list[StoredSegment]:
    """A stored manifest; raises ``ValueError`` if it is not one."""
    listed = json.loads(body)
    if not isinstance(listed, list):
        raise ValueError("not a manifest")
    out = []
    for entry in listed:
        if "data" in entry:
            data = base64.b64decode(entry["data"])
            out.append(StoredSegment("", len(data), md5_hex(data), 0, len(data), False, data))
            continue
        size = int(entry["bytes"])
        bounds = resolve_range(entry.get("range"), size) or (0, 0)
        out.append(
            StoredSegment(
                str(entry["name"]),
                size,
                str(entry["hash"]),
                *bounds,
                bool(entry.get("sub_slo", False)),
            )
        )
    return out


def stored_to_raw(body: bytes) -> bytes:
    """``?multipart-manifest=get&format=raw``: the stored manifest in the PUT form."""
    raw = []
    for entry in json.loads(body):
        if "data" in entry:
            raw.append({"data": entry["data"]})
            continue
        item = {"path": entry["name"], "etag": entry["hash"], "size_bytes": entry["bytes"]}
        if "range" in entry:
            item["range"] = entry["range"]
        raw.append(item)
    return json.dumps(raw).encode()

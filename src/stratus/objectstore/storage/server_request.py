"""Reading a backend request: the path and the headers, strictly, so that anything
malformed is a 400 naming the problem and never reaches the disk or becomes a 500.

The path is taken from the raw bytes (``raw_path``) and percent-decoded to bytes before
a strict UTF-8 decode: servers decode paths leniently, which would silently turn invalid
UTF-8 into replacement characters and store the object under another name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers
from starlette.types import Scope

from stratus.common.errors import InvalidInput
from stratus.objectstore.storage.errors import CorruptObject
from stratus.objectstore.storage.layout import DATA, SUFFIX_RE, FileName, ObjectAddress
from stratus.objectstore.storage.metadata import ObjectMetadata
from stratus.objectstore.storage.timestamp import Timestamp

MAX_PARTITION = 2**32
_DIGITS = re.compile(r"[0-9]{1,20}")
USER_META_PREFIX = "x-object-meta-"
SYSMETA_PREFIX = "x-object-sysmeta-"
# Client headers an object keeps besides its metadata; a POST replaces them all.
STORED_HEADERS = frozenset(
    {
        "content-disposition",
        "content-encoding",
        "content-language",
        "cache-control",
        "expires",
        "x-robots-tag",
        "x-object-manifest",
    }
)
# Set by a PUT only (the proxy's middleware decides who may send them).
SYSMETA_HEADERS = frozenset({"x-static-large-object"})
# A replicator's push: the version's file name and its metadata exactly as stored.
REPLICATED_VERSION = "x-backend-replicated-version"
REPLICATED_METADATA = "x-backend-replicated-metadata"


class LengthRequired(InvalidInput):
    """A PUT with neither Content-Length nor chunked transfer encoding (411)."""

    def __init__(self) -> None:
        super().__init__("objectstore.request.length_required", "Content-Length required")


class InvalidPath(InvalidInput):
    """A path that is not UTF-8 or holds a NUL (Swift's proxy answers 412 to these)."""

    def __init__(self, message: str = "Invalid UTF8 or contains NULL") -> None:
        super().__init__("objectstore.request.invalid_path", message)


@dataclass(frozen=True, slots=True)
class ReplicateTarget:
    device: str
    partition: int
    suffixes: tuple[str, ...]


def _bad(message: str) -> InvalidInput:
    return InvalidInput("objectstore.request.invalid", message)


def request_path(scope: Scope) -> str:
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    raw = raw.split(b"?", 1)[0]
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPath("Invalid UTF-8 in path") from None


def _partition(text: str) -> int:
    if not _DIGITS.fullmatch(text) or int(text) >= MAX_PARTITION:
        raise _bad(f"Invalid partition {text!r}")
    return int(text)


def object_address(path: str) -> ObjectAddress:
    """``/<device>/<partition>/<account>/<container>/<object...>`` (object may hold '/')."""
    parts = path.split("/", 5)
    if len(parts) != 6 or parts[0] != "" or not all(parts[1:]):
        raise _bad("Path must be /device/partition/account/container/object")
    if "\x00" in path:
        raise _bad("Path contains a NUL character")
    _, device, partition, account, container, obj = parts
    return ObjectAddress(device, _partition(partition), account, container, obj)


def replicate_target(path: str) -> ReplicateTarget:
    """``/<device>/<partition>[/<suffix>-<suffix>...]``."""
    parts = path.split("/")
    if len(parts) not in (3, 4) or parts[0] != "" or not parts[1]:
        raise _bad("Path must be /device/partition[/suffixes]")
    suffixes = tuple(s for s in parts[3].split("-") if s) if len(parts) == 4 else ()
    if not all(SUFFIX_RE.fullmatch(s) for s in suffixes):
        raise _bad("Suffixes must be three lowercase hex digits joined by '-'")
    return ReplicateTarget(parts[1], _partition(parts[2]), suffixes)


def required_timestamp(headers: Headers) -> Timestamp:
    value = headers.get("x-timestamp")
    if value is None:
        raise _bad("Missing X-Timestamp header")
    return Timestamp.parse(value.strip())


def content_length(headers: Headers) -> int | None:
    """The announced length; ``None`` for a chunked body."""
    value = headers.get("content-length")
    if value is None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return None
        raise LengthRequired
    if not _DIGITS.fullmatch(value.strip()):
        raise _bad(f"Invalid Content-Length {value!r}")
    return int(value)


def delete_at(headers: Headers) -> int | None:
    """X-Delete-At: whole seconds, in the future (an expired write is pointless)."""
    value = headers.get("x-delete-at")
    if value is None or value == "":
        return None
    if not _DIGITS.fullmatch(value.strip()):
        raise _bad(f"Invalid X-Delete-At {value!r}")
    when = int(value)
    if when <= time.time():
        raise _bad("X-Delete-At is in the past")
    return when


def if_delete_at(headers: Headers) -> int | None:
    """``X-If-Delete-At`` of the expirer's DELETE: whole seconds (any time, past too)."""
    value = headers.get("x-if-delete-at")
    if value is None:
        return None
    if not _DIGITS.fullmatch(value.strip()):
        raise _bad(f"Invalid X-If-Delete-At {value!r}")
    return int(value)


def user_meta(headers: Headers) -> Mapping[str, str]:
    return {
        name[len(USER_META_PREFIX) :]: value
        for name, value in headers.items()
        if name.startswith(USER_META_PREFIX) and len(name) > len(USER_META_PREFIX)
    }


def stored_headers(headers: Headers) -> Mapping[str, str]:
    return {name: value for name, value in headers.items() if name in STORED_HEADERS}


def sysmeta(headers: Headers) -> Mapping[str, str]:
    return {
        name: value
        for name, value in headers.items()
        if (name.startswith(SYSMETA_PREFIX) and len(name) > len(SYSMETA_PREFIX))
        or name in SYSMETA_HEADERS
    }


def replicated_version(headers: Headers, name: str) -> tuple[FileName, ObjectMetadata]:
    """The version a replicator pushes, checked to describe this very object."""
    version = FileName.parse(headers.get(REPLICATED_VERSION, ""))
    if version is None:
        raise _bad(f"Invalid {REPLICATED_VERSION}")
    try:
        meta = ObjectMetadata.from_bytes(
            headers.get(REPLICATED_METADATA, "").encode(), REPLICATED_METADATA
        )
    except CorruptObject as exc:
        raise _bad(exc.message) from None
    if meta.name != name or meta.timestamp != version.timestamp:
        raise _bad(f"Metadata of {meta.name} at {meta.timestamp} does not match the request")
    if version.ext == DATA and (meta.content_length is None or meta.etag is None):
        raise _bad("Replicated data needs its length and ETag")
    return version, meta

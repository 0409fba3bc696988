"""Reading a container or account server request strictly: path, names, headers, query.

Names are percent-decoded from the raw path and decoded as strict UTF-8
(``server_request.request_path``); the query string likewise, since Starlette's own
parsing would turn invalid UTF-8 into replacement characters. Header values are decoded
as UTF-8 too, so metadata is stored as the text the client meant. Anything malformed is
a 400 (412 for listing bounds, as Swift answers) before a database is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.types import Scope

from stratus.common.errors import InvalidInput
from stratus.objectstore.asgi_io import query_params
from stratus.objectstore.dbs.errors import PreconditionFailed
from stratus.objectstore.dbs.listing import MAX_LIMIT, ListingQuery
from stratus.objectstore.storage.server_request import MAX_PARTITION, request_path
from stratus.objectstore.storage.timestamp import Timestamp

MAX_ACCOUNT_NAME = 256
MAX_CONTAINER_NAME = 256
MAX_OBJECT_NAME = 1024
MAX_DELIMITER = 16
_DIGITS = re.compile(r"[0-9]{1,20}")
_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_LIMITS = {"account": MAX_ACCOUNT_NAME, "container": MAX_CONTAINER_NAME}


def bad(message: str) -> InvalidInput:
    return InvalidInput("objectstore.request.invalid", message)


@dataclass(frozen=True, slots=True)
class DbPath:
    """``/<device>/<partition>/<account>[/<container>[/<object>]]`` split and checked."""

    device: str
    partition: int
    account: str
    container: str | None = None
    obj: str | None = None


def partition_number(text: str) -> int:
    if not _DIGITS.fullmatch(text) or int(text) >= MAX_PARTITION:
        raise bad(f"Invalid partition {text!r}")
    return int(text)


def check_name(kind: str, name: str, limit: int) -> str:
    if not name:
        raise bad(f"Missing {kind} name")
    if "\x00" in name:
        raise bad(f"{kind.capitalize()} name contains a NUL character")
    if len(name.encode()) > limit:
        raise bad(f"{kind.capitalize()} name length of {len(name.encode())} longer than {limit}")
    return name


def db_path(scope: Scope, *, min_parts: int, max_parts: int) -> DbPath:
    """The path with 3 to 5 segments after the leading slash; objects may hold '/'."""
    path = request_path(scope)
    parts = path.split("/", 5)
    if parts[0] != "" or not min_parts <= len(parts) - 1 <= max_parts or not all(parts[1:]):
        raise bad("Invalid path: " + "/device/partition/account[/container[/object]]")
    names = parts[3:]
    kinds = ("account", "container")
    for kind, name in zip(kinds, names, strict=False):
        check_name(kind, name, _LIMITS[kind])
    if len(names) == 3:
        check_name("object", names[2], MAX_OBJECT_NAME)
    return DbPath(parts[1], partition_number(parts[2]), *names)


def timestamp(headers: dict[str, str], name: str = "x-timestamp") -> Timestamp:
    value = headers.get(name)
    if value is None:
        raise bad(f"Missing {name} header")
    return Timestamp.parse(value.strip())


def optional_timestamp(headers: dict[str, str], name: str) -> Timestamp | None:
    value = headers.get(name)
    return None if value is None or value.strip() in ("", "0") else Timestamp.parse(value.strip())


def count(headers: dict[str, str], name: str, default: int | None = None) -> int:
    value = headers.get(name)
    if value is None:
        if default is None:
            raise bad(f"Missing {name} header")
        return default
    if not _DIGITS.fullmatch(value.strip()):
        raise bad(f"Invalid {name} {value!r}")
    return int(value)


def listing_query(scope: Scope) -> ListingQuery:
    params = query_params(scope)
    limit = params.get("limit", "")
    if limit and not _DIGITS.fullmatch(limit):
        raise PreconditionFailed(f"Invalid limit {limit!r}")
    if limit and int(limit) > MAX_LIMIT:
        raise PreconditionFailed(f"Maximum limit is {MAX_LIMIT}")
    delimiter = params.get("delimiter", "")
    if len(delimiter) > MAX_DELIMITER:
        raise PreconditionFailed("Bad delimiter")
    for key in ("marker", "end_marker", "prefix", "path", "delimiter"):
        if "\x00" in params.get(key, ""):
            raise PreconditionFailed(f"NUL in {key}")
    return ListingQuery(
        limit=int(limit) if limit else MAX_LIMIT,
        marker=params.get("marker", ""),
        end_marker=params.get("end_marker", ""),
        prefix=params.get("prefix", ""),
        delimiter=delimiter,
        path=params.get("path"),
        reverse=params.get("reverse", "").lower() in _TRUE,
    )

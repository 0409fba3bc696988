"""What container and account servers answer: info headers and JSON listings.

Header values may be any UTF-8 text (metadata), which Starlette would encode as latin-1,
so they are added as raw UTF-8 bytes. Listings are always JSON: the proxy renders the
client's format (plain, JSON, XML) from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from starlette.responses import Response

from stratus.objectstore.dbs.account_broker import ContainerEntry
from stratus.objectstore.dbs.broker import DbInfo
from stratus.objectstore.dbs.container_broker import ObjectEntry
from stratus.objectstore.dbs.listing import Subdir
from stratus.objectstore.storage.timestamp import TICKS_PER_SECOND, Timestamp

JSON_TYPE = "application/json; charset=utf-8"


def iso_time(ts: Timestamp) -> str:
    """``2024-05-01T12:00:00.123450``, as Swift's listings show ``last_modified``."""
    whole, frac = divmod(ts.ticks, TICKS_PER_SECOND)
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac * 10:06d}"


def info_headers(info: DbInfo) -> dict[str, str]:
    """The stats and timestamps a HEAD or GET of a container or account carries."""
    if info.container is not None:
        headers = {
            "X-Container-Object-Count": str(info.object_count),
            "X-Container-Bytes-Used": str(info.bytes_used),
        }
    else:
        headers = {
            "X-Account-Container-Count": str(info.container_count),
            "X-Account-Object-Count": str(info.object_count),
            "X-Account-Bytes-Used": str(info.bytes_used),
        }
    headers.update(
        {
            "X-Timestamp": info.created_at.normal,
            "X-PUT-Timestamp": info.put_timestamp.normal,
            "Last-Modified": info.put_timestamp.http_date,
            "X-Backend-Timestamp": info.created_at.internal,
            "X-Backend-Put-Timestamp": info.put_timestamp.internal,
            "X-Backend-Delete-Timestamp": info.delete_timestamp.internal,
            "X-Backend-Status-Changed-At": info.status_changed_at.internal,
        }
    )
    return headers


def with_utf8_headers(response: Response, headers: Mapping[str, str]) -> Response:
    response.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("utf-8")) for name, value in headers.items()
    )
    return response


def info_response(status: int, info: DbInfo, body: bytes = b"") -> Response:
    response = Response(body, status_code=status, headers=info_headers(info))
    if body:
        response.headers["Content-Type"] = JSON_TYPE
    return with_utf8_headers(response, info.live_metadata)


def _object_json(entry: ObjectEntry | Subdir) -> dict[str, object]:
    if isinstance(entry, Subdir):
        return {"subdir": entry.subdir}
    return {
        "name": entry.name,
        "hash": entry.etag,
        "bytes": entry.size,
        "content_type": entry.content_type,
        "last_modified": iso_time(entry.created_at),
    }


def _container_json(entry: ContainerEntry | Subdir) -> dict[str, object]:
    if isinstance(entry, Subdir):
        return {"subdir": entry.subdir}
    return {
        "name": entry.name,
        "count": entry.object_count,
        "bytes": entry.bytes_used,
        "last_modified": iso_time(entry.put_timestamp),
    }


def object_listing(entries: Sequence[ObjectEntry | Subdir]) -> bytes:
    return json.dumps([_object_json(e) for e in entries], ensure_ascii=False).encode()


def container_listing(entries: Sequence[ContainerEntry | Subdir]) -> bytes:
    return json.dumps([_container_json(e) for e in entries], ensure_ascii=False).encode()

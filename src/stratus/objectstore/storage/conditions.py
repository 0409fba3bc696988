"""Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.

Evaluated by the object server, the one place that knows an object's ETag and time; the
proxy forwards the headers and takes a 304 or 412 from a replica as the answer. The
checks and their order are Swift's: a matching If-None-Match is 304, a failed If-Match
412, then the dates (a date that does not parse is ignored). ETags compare without their
quotes, and ``*`` matches any existing object.

A middleware that stores the client's ETag somewhere else (an encrypted or manifest
object) names that metadata key in ``X-Backend-Etag-Is-At``; the comparison then uses
its value (``etag_for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

ETAG_IS_AT = "x-backend-etag-is-at"


def normalize_etag(tag: str) -> str:
    tag = tag.strip()
    if len(tag) >= 2 and tag.startswith('"') and tag.endswith('"'):
        return tag[1:-1]
    return tag


def etag_tags(header: str) -> frozenset[str]:
    """The entity tags of an If-Match / If-None-Match value."""
    return frozenset(normalize_etag(t) for t in header.split(",") if t.strip())


def matches(header: str, etag: str) -> bool:
    tags = etag_tags(header)
    return "*" in tags or normalize_etag(etag) in tags


def http_seconds(value: str | None) -> float | None:
    """An HTTP date as Unix seconds; ``None`` if absent or not a date."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def etag_for(headers: Mapping[str, str], etag: str, metadata: Mapping[str, str]) -> str:
    """The ETag to compare: the stored one, or the first metadata key that
    ``X-Backend-Etag-Is-At`` names and the object has."""
    for key in headers.get(ETAG_IS_AT, "").split(","):
        found = metadata.get(key.strip().lower())
        if found:
            return found
    return etag


def precondition_status(headers: Mapping[str, str], etag: str, last_modified: float) -> int | None:
    """304 or 412 when the conditions stop this GET/HEAD of an existing object, else None.

    ``last_modified`` is what the response says (whole seconds, rounded up)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match and matches(if_none_match, etag):
        return 304
    if_match = headers.get("if-match")
    if if_match and not matches(if_match, etag):
        return 412
    since = http_seconds(headers.get("if-modified-since"))
    if since is not None and last_modified <= since:
        return 304
    unmodified = http_seconds(headers.get("if-unmodified-since"))
    if unmodified is not None and last_modified > unmodified:
        return 412
    return None


def missing_status(headers: Mapping[str, str]) -> int:
    """For an object no replica has: ``If-Match: *`` is 412 (RFC 9110), else 404."""
    if_match = headers.get("if-match")
    return 412 if if_match and "*" in etag_tags(if_match) else 404

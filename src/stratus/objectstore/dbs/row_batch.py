"""Many object rows for one container in one request: the proxy's batched updates.

Under load a proxy would send each container replica one row request per object write,
and each request costs more (HTTP parsing, dispatch, a response) than merging its row.
The proxy instead keeps one request in flight per container replica and sends the rows
that arrived meanwhile together, as ``POST /<device>/<partition>/<account>/<container>``
with ``X-Backend-Merge-Rows: true`` and a JSON body::

    [{"op": "PUT", "name": "obj", "headers": {"X-Timestamp": "...", "X-Size": "3", ...}},
     {"op": "DELETE", "name": "old", "headers": {"X-Timestamp": "..."}}]

Each entry carries exactly the headers its own row ``PUT`` or ``DELETE`` would, and is
checked the same way; one bad entry refuses the whole batch (400) before anything is
merged. The rows then go into the container's group commit together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from stratus.objectstore.dbs import db_request as rq
from stratus.objectstore.dbs.rows import ObjectRow

HEADER = "X-Backend-Merge-Rows"
MAX_ROWS = 1000
MAX_BODY = 8 << 20  # 1000 rows with the longest names and content types fit


def encode(entries: list[tuple[str, str, Mapping[str, str]]]) -> bytes:
    """The body for ``(op, object name, row headers)`` entries."""
    return json.dumps(
        [{"op": op, "name": name, "headers": dict(headers)} for op, name, headers in entries],
        separators=(",", ":"),
    ).encode()


def decode(body: bytes, row: Callable[[str, str, dict[str, str]], ObjectRow]) -> list[ObjectRow]:
    """The rows of a batch; ``row(op, name, lowercased headers)`` builds and checks one.
    Raises the 400 of the first bad entry."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise rq.bad("Rows must be a JSON list") from None
    if not isinstance(doc, list) or not doc:
        raise rq.bad("Rows must be a non-empty JSON list")
    if len(doc) > MAX_ROWS:
        raise rq.bad(f"More than {MAX_ROWS} rows")
    rows = []
    for entry in doc:
        if not isinstance(entry, dict):
            raise rq.bad("Each row must be a JSON object")
        op, name, headers = entry.get("op"), entry.get("name"), entry.get("headers")
        if op not in ("PUT", "DELETE") or not isinstance(name, str):
            raise rq.bad("Each row needs an op (PUT or DELETE) and a name")
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise rq.bad("Each row's headers must map names to strings")
        if not all(_is_utf8(text) for text in (name, *headers, *headers.values())):
            raise rq.bad("Row names and headers must be valid UTF-8")
        rq.check_name("object", name, rq.MAX_OBJECT_NAME)
        rows.append(row(op, name, {k.lower(): v for k, v in headers.items()}))
    return rows


def _is_utf8(text: str) -> bool:
    """False for JSON's escaped lone surrogates, which no UTF-8 byte string holds."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True

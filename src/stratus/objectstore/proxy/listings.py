"""Listings in the client's format: plain text, JSON or XML, from the backend's JSON.

Container and account servers always answer JSON; the format is the client's choice,
by ``?format=`` first, then the ``Accept`` header, plain text by default, as in Swift.
An empty plain-text listing is 204 No Content; JSON and XML still carry an empty list.
"""

from __future__ import annotations

import json
from typing import Literal
from xml.etree import ElementTree as ET

from stratus.objectstore.proxy.errors import bad_request

Format = Literal["plain", "json", "xml"]
CONTENT_TYPES: dict[Format, str] = {
    "plain": "text/plain; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
}
# the fields of one entry in XML, in Swift's order
OBJECT_FIELDS = ("name", "hash", "bytes", "content_type", "last_modified")
CONTAINER_FIELDS = ("name", "count", "bytes", "last_modified")


def choose_format(query: dict[str, str], accept: str) -> Format:
    asked = query.get("format", "").strip().lower()
    if asked in ("json", "xml", "plain"):
        return asked  # type: ignore[return-value]
    if asked:
        return "plain"
    accept = accept.lower()
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    return "plain"


def parse_entries(body: bytes) -> list[dict[str, object]]:
    try:
        entries = json.loads(body or b"[]")
    except ValueError:
        raise bad_request("Backend listing is not JSON") from None
    if not isinstance(entries, list):
        raise bad_request("Backend listing is not a list")
    return [e for e in entries if isinstance(e, dict)]


def render(entries: list[dict[str, object]], fmt: Format, *, root: str, name: str) -> bytes:
    """``root`` is ``container`` (listing objects) or ``account`` (listing containers)."""
    if fmt == "json":
        return json.dumps(entries, ensure_ascii=False).encode()
    if fmt == "xml":
        return _xml(entries, root=root, name=name)
    if not entries:
        return b""
    lines = [str(e.get("name", e.get("subdir", ""))) for e in entries]
    return ("\n".join(lines) + "\n").encode()


def _xml(entries: list[dict[str, object]], *, root: str, name: str) -> bytes:
    top = ET.Element(root, name=name)
    item = "object" if root == "container" else "container"
    fields = OBJECT_FIELDS if root == "container" else CONTAINER_FIELDS
    for entry in entries:
        if "subdir" in entry:
            sub = ET.SubElement(top, "subdir", name=str(entry["subdir"]))
            ET.SubElement(sub, "name").text = str(entry["subdir"])
            continue
        node = ET.SubElement(top, item)
        for key in fields:
            ET.SubElement(node, key).text = str(entry.get(key, ""))
    body = ET.tostring(top, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'.encode()

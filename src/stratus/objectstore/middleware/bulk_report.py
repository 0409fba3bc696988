"""The report Swift's bulk operations answer with: a few counters and a list of errors.

Bulk delete, archive extraction, a static large object's segment check and its delete
all describe their outcome this way, as JSON, XML or plain text depending on the
client's ``Accept`` (plain text unless it asks for one of the others).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from xml.sax.saxutils import escape

JSON = "application/json"
PLAIN = "text/plain"
_XML = ("application/xml", "text/xml")

Errors = list[tuple[str, str]]  # (name, status or problem)


def report_type(accept: str | None) -> str:
    """The first of JSON, XML or plain text that ``Accept`` lists (plain by default)."""
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in (JSON, PLAIN, *_XML):
            return media
    return PLAIN


def render(content_type: str, counts: Mapping[str, object], errors: Errors, root: str) -> bytes:
    if content_type == JSON:
        return json.dumps({**counts, "Errors": [list(e) for e in errors]}).encode()
    if content_type in _XML:
        return _xml(counts, errors, root)
    lines = [f"{key}: {value}\n" for key, value in counts.items()]
    lines.append("Errors:\n")
    lines.extend(f"{name}, {problem}\n" for name, problem in errors)
    return "".join(lines).encode()


def _xml(counts: Mapping[str, object], errors: Errors, root: str) -> bytes:
    def tag(key: str) -> str:
        return key.lower().replace(" ", "_")

    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<{root}>\n"]
    out += [f"<{tag(k)}>{escape(str(v))}</{tag(k)}>\n" for k, v in counts.items()]
    out.append("<errors>\n")
    out += [
        f"<object><name>{escape(name)}</name><status>{escape(problem)}</status></object>\n"
        for name, problem in errors
    ]
    out.append(f"</errors>\n</{root}>\n")
    return "".join(out).encode()

"""HTTP ``Range`` for object GETs: one byte range, as the proxy asks of a backend.

Several ranges in one header are answered with the whole object (RFC 9110 lets a server
ignore Range); the proxy can ask for them one at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    stop: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"


class Unsatisfiable(Exception):
    """No requested range overlaps the object (416 with ``Content-Range: bytes */size``)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range to send, or ``None`` for the whole object (absent, malformed, or several
    ranges: all are reasons to ignore the header rather than fail the GET)."""
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in specs:
        return None
    match = _SPEC.fullmatch(specs)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - length), size)
    start = int(first)
    stop = size if last == "" else int(last) + 1
    if last != "" and stop <= start:
        return None  # last < first: syntactically invalid, ignored
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(stop, size))

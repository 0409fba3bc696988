"""HTTP ``Range`` for object GETs, with Swift's rules.

A header that is not well formed anywhere (``bytes=5-3``, ``bytes=x``, a spec without a
hyphen) is ignored and the whole object sent: RFC 9110 lets a server ignore Range, and
that is what Swift does. Of a well-formed header, ranges that start past the end are
dropped and ranges that end past it are trimmed; if nothing is left the answer is 416
with ``Content-Range: bytes */size``. Requests that could make a server do far more work
than the object's size (RFC 7233 §6.1) are refused with 416 as Swift documents: more
than 50 ranges, more than two overlapping pairs, or eight or more out of order.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_DIGITS = re.compile(r"[0-9]*")
MAX_RANGES = 50
MAX_OVERLAPS = 2
MAX_NONASCENDING = 8


@dataclass(frozen=True, slots=True, order=True)
class ByteRange:
    start: int
    stop: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"

    def overlaps(self, other: ByteRange) -> bool:
        return self.start < other.stop and other.start < self.stop


class Unsatisfiable(Exception):
    """No range can be served (416 with ``Content-Range: bytes */size``)."""


Spec = tuple[int | None, int | None]  # (first, last) as written; either may be absent


def parse_specs(header: str | None) -> list[Spec] | None:
    """The header's ranges as written, or ``None`` if it is absent or malformed."""
    if not header:
        return None
    text = header.replace(" ", "").replace("\t", "")
    if not text.lower().startswith("bytes="):
        return None
    specs: list[Spec] = []
    for spec in text[len("bytes=") :].split(","):
        first, hyphen, last = spec.partition("-")
        if not hyphen or not _DIGITS.fullmatch(first) or not _DIGITS.fullmatch(last):
            return None
        if first == last == "":
            return None
        start = int(first) if first else None
        end = int(last) if last else None
        if start is not None and end is not None and end < start:
            return None
        specs.append((start, end))
    return specs


def resolve(specs: list[Spec], size: int) -> list[ByteRange]:
    """The byte ranges of an object of ``size`` bytes that the specs ask for."""
    out: list[ByteRange] = []
    for first, last in specs:
        if first is None:
            assert last is not None
            if last > 0:  # ``-0`` asks for nothing
                out.append(ByteRange(max(0, size - last), size))
        elif first < size:
            out.append(ByteRange(first, size if last is None else min(last + 1, size)))
    return out


def egregious(ranges: list[ByteRange]) -> bool:
    """Swift's denial-of-service limits on multi-range requests."""
    if len(ranges) > MAX_RANGES:
        return True
    overlapping = sum(1 for a, b in itertools.combinations(ranges, 2) if a.overlaps(b))
    if overlapping > MAX_OVERLAPS:
        return True
    ascending = all(a <= b for a, b in itertools.pairwise(ranges))
    return not ascending and len(ranges) >= MAX_NONASCENDING


def parse_ranges(header: str | None, size: int) -> list[ByteRange] | None:
    """The ranges to send, or ``None`` for the whole object; ``Unsatisfiable`` for 416."""
    specs = parse_specs(header)
    if specs is None:
        return None
    ranges = resolve(specs, size)
    if not ranges or egregious(ranges):
        raise Unsatisfiable
    if size == 0:  # only a suffix range gets here: there are no bytes to index
        return None
    return ranges

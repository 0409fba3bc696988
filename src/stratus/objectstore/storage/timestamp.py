"""Swift's ``X-Timestamp``: the version of every object write, compared on every replica.

A timestamp is seconds since the epoch with five decimals (10 µs resolution), written in
the fixed-width *normal* form ``1234567890.12345`` so that file names sort in time order.
An optional *offset* (``1234567890.12345_000000000000000a``, 16 hex digits) orders internal
writes that must share a client's timestamp but still win over it (the *internal* form).

The value is held as integers (ticks of 10 µs and the offset), never as a float, so parsing
and printing round-trip exactly and ordering is exact on every node.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from email.utils import formatdate

from stratus.common.errors import InvalidInput

TICKS_PER_SECOND = 100_000
MAX_TICKS = 10**10 * TICKS_PER_SECOND  # the normal form has ten integer digits
MAX_OFFSET = 2**64 - 1

_PATTERN = re.compile(r"(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?(?:_(?P<offset>[0-9a-fA-F]{1,16}))?")


class InvalidTimestamp(InvalidInput):
    """A timestamp that is not a non-negative decimal number of seconds below 10**10."""

    def __init__(self, value: object, why: str) -> None:
        super().__init__("objectstore.timestamp.invalid", f"Invalid timestamp {value!r}: {why}")


@dataclass(frozen=True, order=True, slots=True)
class Timestamp:
    """A write's version; ordering is by ticks, then offset (dataclass field order)."""

    ticks: int
    offset: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.ticks < MAX_TICKS:
            raise InvalidTimestamp(self.ticks, "out of range")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidTimestamp(self.offset, "offset out of range")

    # ---- construction ------------------------------------------------------------------

    @classmethod
    def parse(cls, value: str) -> Timestamp:
        """Parse a normal or internal form; more than five decimals are rounded half up
        (clients send ``time.time()`` with microseconds)."""
        match = _PATTERN.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise InvalidTimestamp(value, "expected seconds like 1234567890.12345[_offset]")
        whole = int(match["int"])
        frac = (match["frac"] or "").ljust(6, "0")
        ticks = whole * TICKS_PER_SECOND + int(frac[:5]) + (1 if frac[5] >= "5" else 0)
        offset = int(match["offset"], 16) if match["offset"] else 0
        if ticks >= MAX_TICKS:
            raise InvalidTimestamp(value, "too far in the future")
        return cls(ticks, offset)

    @classmethod
    def from_seconds(cls, seconds: float, offset: int = 0) -> Timestamp:
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidTimestamp(seconds, "not a finite non-negative number")
        return cls(round(seconds * TICKS_PER_SECOND), offset)

    @classmethod
    def now(cls) -> Timestamp:
        return cls.from_seconds(time.time())

    # ---- views -------------------------------------------------------------------------

    @property
    def normal(self) -> str:
        """``1234567890.12345``: fixed width, so names sort like the times they hold."""
        whole, frac = divmod(self.ticks, TICKS_PER_SECOND)
        return f"{whole:010d}.{frac:05d}"

    @property
    def internal(self) -> str:
        """The normal form, plus ``_<16 hex digits>`` only when there is an offset."""
        if self.offset:
            return f"{self.normal}_{self.offset:016x}"
        return self.normal

    @property
    def seconds(self) -> float:
        return self.ticks / TICKS_PER_SECOND

    @property
    def http_date(self) -> str:
        """``Last-Modified`` rounds up, so a client's If-Modified-Since never misses a write."""
        return formatdate(math.ceil(self.seconds), usegmt=True)

    def with_offset(self, offset: int) -> Timestamp:
        return Timestamp(self.ticks, offset)

    def __str__(self) -> str:
        return self.internal

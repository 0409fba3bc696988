"""Listings by name, in SQL: prefix, delimiter, path, markers, reverse and limit.

One indexed range scan on ``(deleted, name)`` per page of rows. A delimiter does not make
the scan read a whole "directory": on the first name under a new ``<prefix><dir><delim>``,
the listing emits that subdir once and restarts the scan just past every name that shares
it (forward: at the smallest string greater than all of them; reverse: below it). A
listing of 10,000 subdirs over millions of rows therefore costs 10,000 short queries.

SQLite compares TEXT bytewise (UTF-8), which orders like Python compares code points, so
the bounds computed here in Python mean the same thing in SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

MAX_LIMIT = 10_000
_MAX_CHAR = 0x10FFFF

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """What the proxy asks for; ``path`` (Swift's) means prefix ``path/``, delimiter
    ``/``, and deeper names left out entirely rather than shown as subdirs."""

    limit: int = MAX_LIMIT
    marker: str = ""
    end_marker: str = ""
    prefix: str = ""
    delimiter: str = ""
    path: str | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Subdir:
    """A ``<prefix><dir><delimiter>`` that stands for every name under it."""

    subdir: str


@dataclass(slots=True)
class _Bound:
    value: str
    inclusive: bool


def successor(text: str) -> str | None:
    """The smallest string greater than every string starting with ``text``; ``None``
    when there is none (``text`` is all U+10FFFF)."""
    stripped = text.rstrip(chr(_MAX_CHAR))
    if not stripped:
        return None
    code = ord(stripped[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters: skip to the next one
        code = 0xE000
    return stripped[:-1] + chr(code)


@dataclass(frozen=True, slots=True)
class ListingTable(Generic[E]):
    """A table to list: its name, the columns selected, and how a row becomes an entry."""

    table: str
    columns: str
    entry: Callable[[Sequence[object]], E]


class _Scan(Generic[E]):
    def __init__(self, conn: sqlite3.Connection, spec: ListingTable[E], q: ListingQuery) -> None:
        self.conn, self.spec, self.q = conn, spec, q
        self.prefix, self.delim = q.prefix, q.delimiter
        if q.path is not None:
            self.prefix = q.path.rstrip("/") + "/" if q.path.rstrip("/") else ""
            self.delim = "/"
        self.lower: _Bound | None = None
        self.upper: _Bound | None = None
        self._initial_bounds()

    def _initial_bounds(self) -> None:
        q = self.q
        low, high = (q.end_marker, q.marker) if q.reverse else (q.marker, q.end_marker)
        if low:
            self.lower = _Bound(low, False)
        if self.prefix and (self.lower is None or self.prefix > self.lower.value):
            self.lower = _Bound(self.prefix, True)
        if high:
            self.upper = _Bound(high, False)
        end = successor(self.prefix) if self.prefix else None
        if end is not None and (self.upper is None or end < self.upper.value):
            self.upper = _Bound(end, False)

    def _query(self, count: int) -> list[tuple[object, ...]]:
        where, args = ["deleted = 0"], list[object]()
        if self.lower is not None:
            where.append("name >= ?" if self.lower.inclusive else "name > ?")
            args.append(self.lower.value)
        if self.upper is not None:
            where.append("name <= ?" if self.upper.inclusive else "name < ?")
            args.append(self.upper.value)
        order = "DESC" if self.q.reverse else "ASC"
        sql = (
            f"SELECT {self.spec.columns} FROM {self.spec.table} WHERE {' AND '.join(where)}"  # noqa: S608
            f" ORDER BY name {order} LIMIT ?"
        )
        return self.conn.execute(sql, [*args, count]).fetchall()

    def run(self) -> list[E | Subdir]:
        out: list[E | Subdir] = []
        while len(out) < self.q.limit:
            want = self.q.limit - len(out)
            rows = self._query(want)
            jumped = self._consume(rows, out)
            if not jumped and len(rows) < want:
                break
        return out

    def _consume(self, rows: list[tuple[object, ...]], out: list[E | Subdir]) -> bool:
        """Add entries; ``True`` when a subdir moved the bounds (so the scan restarts)."""
        for row in rows:
            name = str(row[0])
            cut = name.find(self.delim, len(self.prefix)) if self.delim else -1
            if self.q.path is not None and name == self.prefix:
                continue  # the directory marker of the path itself
            if cut < 0 or (self.q.path is not None and cut + len(self.delim) == len(name)):
                out.append(self.spec.entry(row))
                continue
            self._skip_under(name[: cut + len(self.delim)], out)
            return True
        return False

    def _skip_under(self, directory: str, out: list[E | Subdir]) -> None:
        if self.q.path is None and not (not self.q.reverse and directory == self.q.marker):
            out.append(Subdir(directory))
        if self.q.reverse:  # in path mode the directory's own marker object still counts
            self.upper = _Bound(directory, self.q.path is not None)
            return
        after = successor(directory)
        if after is None:
            self.upper = _Bound(directory, False)  # nothing can follow: end the scan
            self.lower = _Bound(directory, True)
        else:
            self.lower = _Bound(after, True)


def list_rows(
    conn: sqlite3.Connection, spec: ListingTable[E], query: ListingQuery
) -> list[E | Subdir]:
    return _Scan(conn, spec, query).run()

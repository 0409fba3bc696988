"""A container's database: the objects it lists, its counts, metadata and history.

Every object write or delete on an object server ends with the proxy sending the row here
(``PUT``/``DELETE /<dev>/<part>/<a>/<c>/<o>``); the row with the newest ``created_at``
wins per name whatever order the updates arrive in, and a delete leaves a tombstone row
so an older PUT that arrives late cannot bring the object back. Counts and bytes are kept
by triggers (``schema.py``), never recounted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from stratus.objectstore.dbs.broker import Broker
from stratus.objectstore.dbs.dbfile import DbKind
from stratus.objectstore.dbs.listing import ListingQuery, ListingTable, Subdir, list_rows
from stratus.objectstore.dbs.rows import ObjectRow, newer_object
from stratus.objectstore.storage.timestamp import Timestamp

_COLUMNS = "name, created_at, size, content_type, etag, deleted"
_BY_NAME = f"SELECT {_COLUMNS} FROM objects WHERE name = ?"  # noqa: S608 - constants only
_INSERT = f"INSERT INTO objects ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    """One line of a container listing."""

    name: str
    created_at: Timestamp
    size: int
    content_type: str
    etag: str


def _entry(row: Sequence[object]) -> ObjectEntry:
    name, created_at, size, content_type, etag = row
    return ObjectEntry(
        str(name), Timestamp.parse(str(created_at)), int(str(size)), str(content_type), str(etag)
    )


_LISTING = ListingTable("objects", "name, created_at, size, content_type, etag", _entry)


class ContainerBroker(Broker[ObjectRow]):
    kind = DbKind.CONTAINER
    table = "objects"
    row_columns = _COLUMNS
    stat_columns = "0, object_count, bytes_used"

    def row_from_sql(self, row: tuple[object, ...]) -> ObjectRow:
        return ObjectRow.from_sql(row)  # type: ignore[arg-type]

    def merge_row(self, conn: sqlite3.Connection, row: ObjectRow) -> bool:
        found = conn.execute(_BY_NAME, (row.name,))
        current = found.fetchone()
        winner = newer_object(ObjectRow.from_sql(current) if current else None, row)
        if winner is None:
            return False
        if current is not None:
            conn.execute("DELETE FROM objects WHERE name = ?", (row.name,))
        conn.execute(_INSERT, winner.to_sql())
        return True

    def put_object(
        self, name: str, timestamp: Timestamp, size: int, content_type: str, etag: str
    ) -> bool:
        return self.merge_items([ObjectRow(name, timestamp, size, content_type, etag)]) > 0

    def delete_object(self, name: str, timestamp: Timestamp) -> bool:
        return self.merge_items([ObjectRow(name, timestamp, deleted=True)]) > 0

    def get_object(self, name: str) -> ObjectRow | None:
        """The current row for ``name``, tombstone included (for tests and the auditor)."""
        row = self.conn.execute(_BY_NAME, (name,))
        found = row.fetchone()
        return ObjectRow.from_sql(found) if found else None

    def list_objects(self, query: ListingQuery) -> list[ObjectEntry | Subdir]:
        return list_rows(self.conn, _LISTING, query)

    def reclaim_rows(self, conn: sqlite3.Connection, before: Timestamp) -> int:
        cursor = conn.execute(
            "DELETE FROM objects WHERE deleted = 1 AND created_at < ?", (before.internal,)
        )
        return cursor.rowcount

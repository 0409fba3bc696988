"""An account's database: its containers with their last reported counts, and totals.

Container servers report a container's put and delete timestamps and its object count
and bytes used (``PUT /<dev>/<part>/<a>/<c>``); each field merges on its own (newest
put, newest delete, most recently measured counts), and the account totals follow the
live rows through triggers (``schema.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from stratus.objectstore.dbs.broker import Broker
from stratus.objectstore.dbs.dbfile import DbKind
from stratus.objectstore.dbs.listing import ListingQuery, ListingTable, Subdir, list_rows
from stratus.objectstore.dbs.rows import ContainerRow, merged_container
from stratus.objectstore.storage.timestamp import Timestamp

_COLUMNS = (
    "name, put_timestamp, delete_timestamp, stats_timestamp, object_count, bytes_used, deleted"
)


@dataclass(frozen=True, slots=True)
class ContainerEntry:
    """One line of an account listing."""

    name: str
    object_count: int
    bytes_used: int
    put_timestamp: Timestamp


def _entry(row: Sequence[object]) -> ContainerEntry:
    name, count, used, put = row
    return ContainerEntry(str(name), int(str(count)), int(str(used)), Timestamp.parse(str(put)))


_LISTING = ListingTable("containers", "name, object_count, bytes_used, put_timestamp", _entry)


class AccountBroker(Broker[ContainerRow]):
    kind = DbKind.ACCOUNT
    table = "containers"
    row_columns = _COLUMNS
    stat_columns = "container_count, object_count, bytes_used"

    def row_from_sql(self, row: tuple[object, ...]) -> ContainerRow:
        return ContainerRow.from_sql(row)  # type: ignore[arg-type]

    def merge_row(self, conn: sqlite3.Connection, row: ContainerRow) -> bool:
        sql = f"SELECT {_COLUMNS} FROM containers WHERE name = ?"  # noqa: S608 - constant columns
        found = conn.execute(sql, (row.name,))
        current = found.fetchone()
        winner = merged_container(ContainerRow.from_sql(current) if current else None, row)
        if winner is None:
            return False
        if current is not None:
            conn.execute("DELETE FROM containers WHERE name = ?", (row.name,))
        insert = f"INSERT INTO containers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
        conn.execute(insert, winner.to_sql())
        return True

    def put_container(self, row: ContainerRow) -> ContainerRow:
        """Merge a container server's report; the merged row (deleted or not)."""
        self.merge_items([row])
        merged = self.get_container(row.name)
        assert merged is not None
        return merged

    def get_container(self, name: str) -> ContainerRow | None:
        sql = f"SELECT {_COLUMNS} FROM containers WHERE name = ?"  # noqa: S608 - constant columns
        found = self.conn.execute(sql, (name,))
        row = found.fetchone()
        return ContainerRow.from_sql(row) if row else None

    def list_containers(self, query: ListingQuery) -> list[ContainerEntry | Subdir]:
        return list_rows(self.conn, _LISTING, query)

    def reclaim_rows(self, conn: sqlite3.Connection, before: Timestamp) -> int:
        cursor = conn.execute(
            "DELETE FROM containers WHERE deleted = 1 AND delete_timestamp < ?",
            (before.internal,),
        )
        return cursor.rowcount

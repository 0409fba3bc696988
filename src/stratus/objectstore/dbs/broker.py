"""What container and account databases share: identity, put/delete history, metadata,
and the replication primitives (rows since a rowid, merge, sync points).

A broker is synchronous and owns one SQLite connection; ``registry.AsyncDb`` runs it in a
worker thread, one call at a time per database. Writes are ``BEGIN IMMEDIATE`` so a
second process on the same file waits for the lock instead of failing mid-transaction.
"""

from __future__ import annotations

import abc
import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from stratus.objectstore.dbs import dbfile
from stratus.objectstore.dbs.dbfile import DbConfig, DbIdentity, DbKind, DbLocation
from stratus.objectstore.dbs.errors import CorruptDatabase, DbNotFound
from stratus.objectstore.dbs.rows import MetaValue, merged_metadata
from stratus.objectstore.storage.timestamp import Timestamp

R = TypeVar("R")
MetadataCheck = Callable[[Mapping[str, str]], None]


@dataclass(frozen=True, slots=True)
class DbInfo:
    """Everything about a database but its rows; ``hash`` and ``max_row`` let two
    replicas tell at a glance whether, and from where, they need to exchange rows."""

    db_id: str
    account: str
    container: str | None
    created_at: Timestamp
    put_timestamp: Timestamp
    delete_timestamp: Timestamp
    status_changed_at: Timestamp
    hash: str
    max_row: int
    container_count: int
    object_count: int
    bytes_used: int
    metadata: Mapping[str, MetaValue]

    @property
    def name(self) -> str:
        return f"/{self.account}" + (f"/{self.container}" if self.container is not None else "")

    @property
    def is_deleted(self) -> bool:
        """Deleted once the delete is newer than the last put; a container also needs to
        be empty (an object row arriving after the delete brings it back, as in Swift)."""
        newer_delete = self.delete_timestamp > self.put_timestamp
        return newer_delete and (self.container is None or self.object_count == 0)

    @property
    def live_metadata(self) -> dict[str, str]:
        return {k: v for k, (v, _) in self.metadata.items() if v}


class Broker(abc.ABC, Generic[R]):
    """One database file; subclasses name their row table and how rows merge."""

    kind: ClassVar[DbKind]
    table: ClassVar[str]
    row_columns: ClassVar[str]
    stat_columns: ClassVar[str]

    def __init__(self, loc: DbLocation, config: DbConfig) -> None:
        self.loc = loc
        self.config = config
        self._conn: sqlite3.Connection | None = None
        self._inode = 0

    # ---- the file ----------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is not None and self._moved():
            self.close()
        if self._conn is None:
            if not self.exists():
                raise DbNotFound(self.loc.path.name)
            self._conn = dbfile.connect(self.loc.path, self.config)
            self._inode = os.stat(self.loc.path).st_ino
        return self._conn

    def _moved(self) -> bool:
        """Whether the file open here was removed or replaced since (the replicator
        removes a handoff's copy once the primaries have it): then reopen, never write
        into a file nobody will read again."""
        try:
            return os.stat(self.loc.path).st_ino != self._inode
        except FileNotFoundError:
            return True

    def exists(self) -> bool:
        """Whether the file is there (``DeviceUnavailable`` if the device is not)."""
        dbfile.check_device(self.loc, self.config)
        return self.loc.path.is_file()

    def create(self, identity: DbIdentity) -> None:
        dbfile.create(self.loc, identity, self.config)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, rolled back on any error (including a refused validation)."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise CorruptDatabase(str(self.loc.path), str(exc)) from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # ---- identity, timestamps, metadata ------------------------------------------------

    def info(self) -> DbInfo:
        conn = self.conn
        head = conn.execute(
            "SELECT db_id, account, container, created_at, put_timestamp, delete_timestamp,"  # noqa: S608
            f" status_changed_at, hash, {self.stat_columns} FROM info, policy_stat"
            " WHERE policy_index = 0"
        ).fetchone()
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (self.table,))
        max_row = seq.fetchone()
        db_id, account, container, created, put, delete, changed, hash_, *stats = head
        containers, objects, used = (int(v) for v in stats)
        return DbInfo(
            db_id,
            account,
            container,
            Timestamp.parse(created),
            Timestamp.parse(put),
            Timestamp.parse(delete),
            Timestamp.parse(changed),
            hash_,
            max_row[0] if max_row else -1,
            containers,
            objects,
            used,
            self._metadata(conn),
        )

    def live_info(self) -> DbInfo:
        """The info of a database that exists and is not deleted, else ``DbNotFound``."""
        info = self.info()
        if info.is_deleted:
            raise DbNotFound(info.name, info.put_timestamp, info.delete_timestamp)
        return info

    def _metadata(self, conn: sqlite3.Connection) -> dict[str, MetaValue]:
        rows = conn.execute("SELECT key, value, timestamp FROM metadata")
        return {k: (v, Timestamp.parse(ts)) for k, v, ts in rows}

    def merge_timestamps(
        self,
        *,
        put: Timestamp | None = None,
        delete: Timestamp | None = None,
        status_changed: Timestamp | None = None,
    ) -> tuple[DbInfo, DbInfo]:
        """Raise the put/delete timestamps (each only ever grows); ``(before, after)``.

        ``status_changed_at`` moves to the request's time when the deleted state flips,
        and to a replica's when that is newer, so replicas agree on it too.
        """
        with self.write() as conn:
            before = self.info()
            new_put = max(before.put_timestamp, put or before.put_timestamp)
            new_delete = max(before.delete_timestamp, delete or before.delete_timestamp)
            conn.execute(
                "UPDATE info SET put_timestamp = ?, delete_timestamp = ?",
                (new_put.internal, new_delete.internal),
            )
            after = self.info()
            changed = max(before.status_changed_at, status_changed or before.status_changed_at)
            if after.is_deleted != before.is_deleted:
                changed = max(changed, put or delete or changed)
            conn.execute("UPDATE info SET status_changed_at = ?", (changed.internal,))
        return before, self.info()

    def update_metadata(
        self, items: Mapping[str, MetaValue], check: MetadataCheck | None = None
    ) -> None:
        """Newest wins per key; ``check`` sees the merged live metadata before commit."""
        if not items:
            return
        with self.write() as conn:
            current = self._metadata(conn)
            changed = merged_metadata(current, items)
            if check is not None:
                merged = {**current, **changed}
                check({k: v for k, (v, _) in merged.items() if v})
            conn.executemany(
                "INSERT OR REPLACE INTO metadata (key, value, timestamp) VALUES (?, ?, ?)",
                [(k, v, ts.internal) for k, (v, ts) in changed.items()],
            )

    def delete_db(self, timestamp: Timestamp) -> DbInfo:
        """Mark deleted at ``timestamp`` and clear the metadata as of then (Swift does
        too, so a container re-created later starts without the old ACLs)."""
        info = self.info()
        self.update_metadata({k: ("", timestamp) for k in info.metadata})
        return self.merge_timestamps(delete=timestamp)[1]

    # ---- replication -------------------------------------------------------------------

    def rows_since(self, point: int, limit: int) -> list[tuple[int, R]]:
        """Rows (with their rowids) changed after ``point``, oldest change first."""
        cursor = self.conn.execute(
            f"SELECT rowid, {self.row_columns} FROM {self.table} WHERE rowid > ?"  # noqa: S608
            " ORDER BY rowid LIMIT ?",
            (point, limit),
        )
        return [(row[0], self.row_from_sql(row[1:])) for row in cursor]

    def merge_items(
        self, rows: Iterable[R], *, remote_id: str | None = None, point: int | None = None
    ) -> int:
        """Merge rows from a replica or from requests; with ``remote_id``, remember that
        its rows up to ``point`` are in. Returns how many rows changed."""
        with self.write() as conn:
            changed = sum(self.merge_row(conn, row) for row in rows)
            if remote_id is not None and point is not None:
                conn.execute(
                    "INSERT INTO incoming_sync (remote_id, sync_point) VALUES (?, ?)"
                    " ON CONFLICT (remote_id) DO UPDATE SET"
                    " sync_point = max(sync_point, excluded.sync_point)",
                    (remote_id, point),
                )
        return changed

    def sync_point(self, remote_id: str) -> int:
        """Up to which of ``remote_id``'s rowids this database has its rows (-1: none)."""
        row = self.conn.execute(
            "SELECT sync_point FROM incoming_sync WHERE remote_id = ?", (remote_id,)
        ).fetchone()
        return int(row[0]) if row else -1

    def reclaim(self, before: Timestamp) -> int:
        """Purge tombstones (rows and removed metadata keys) older than ``before``."""
        with self.write() as conn:
            gone = self.reclaim_rows(conn, before)
            conn.execute(
                "DELETE FROM metadata WHERE value = '' AND timestamp < ?", (before.internal,)
            )
        return gone

    # ---- per kind ----------------------------------------------------------------------

    @abc.abstractmethod
    def row_from_sql(self, row: tuple[object, ...]) -> R: ...

    @abc.abstractmethod
    def merge_row(self, conn: sqlite3.Connection, row: R) -> bool:
        """Store ``row`` if it wins over the current version; ``True`` if it did."""

    @abc.abstractmethod
    def reclaim_rows(self, conn: sqlite3.Connection, before: Timestamp) -> int: ...

"""The SQL of container and account databases, versioned by ``PRAGMA user_version``.

Every row that replicas exchange (an object of a container, a container of an account) is
*replaced*, never updated: a newer version deletes the old row and inserts a new one, so
its ``rowid`` (AUTOINCREMENT: never reused) grows and a peer that has synced up to some
rowid sees the change. Triggers on insert and delete keep the counts in ``policy_stat``
and the rolling content hash in ``info`` exact in the same transaction, so they can never
drift from the rows, and two replicas with the same rows have the same hash.
"""

from __future__ import annotations

FORMAT_VERSION = 1
ZERO_HASH = "0" * 32

# One row (id 0): who this database is and its own put/delete history.
_INFO = """
CREATE TABLE info (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    db_id TEXT NOT NULL,             -- random per replica file: names sync points
    account TEXT NOT NULL,
    container TEXT,                  -- NULL in an account database
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL,
    status_changed_at TEXT NOT NULL,
    hash TEXT NOT NULL DEFAULT '00000000000000000000000000000000'
);
CREATE TABLE metadata (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,             -- '' is a removed key, kept for its timestamp
    timestamp TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE incoming_sync (
    remote_id TEXT PRIMARY KEY,
    sync_point INTEGER NOT NULL      -- the remote's rowid up to which we have its rows
) WITHOUT ROWID;
"""

CONTAINER_SCHEMA = (
    _INFO  # noqa: S608 - DDL constants, no input
    + """
CREATE TABLE policy_stat (
    policy_index INTEGER PRIMARY KEY,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
);
INSERT INTO policy_stat (policy_index) VALUES (0);
CREATE TABLE objects (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX ix_objects_deleted_name ON objects (deleted, name);
CREATE TRIGGER objects_insert AFTER INSERT ON objects BEGIN
    UPDATE policy_stat SET
        object_count = object_count + (1 - new.deleted),
        bytes_used = bytes_used + CASE WHEN new.deleted THEN 0 ELSE new.size END
    WHERE policy_index = 0;
    UPDATE info SET hash = chexor(hash, new.name, new.created_at, new.deleted,
                                  new.size, new.content_type, new.etag);
END;
CREATE TRIGGER objects_delete AFTER DELETE ON objects BEGIN
    UPDATE policy_stat SET
        object_count = object_count - (1 - old.deleted),
        bytes_used = bytes_used - CASE WHEN old.deleted THEN 0 ELSE old.size END
    WHERE policy_index = 0;
    UPDATE info SET hash = chexor(hash, old.name, old.created_at, old.deleted,
                                  old.size, old.content_type, old.etag);
END;
CREATE TRIGGER objects_no_update BEFORE UPDATE ON objects BEGIN
    SELECT RAISE(ABORT, 'object rows are replaced, never updated');
END;
"""
)

ACCOUNT_SCHEMA = (
    _INFO  # noqa: S608 - DDL constants, no input
    + """
CREATE TABLE policy_stat (
    policy_index INTEGER PRIMARY KEY,
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
);
INSERT INTO policy_stat (policy_index) VALUES (0);
CREATE TABLE containers (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL,
    stats_timestamp TEXT NOT NULL,   -- when the container server measured the counts
    object_count INTEGER NOT NULL,
    bytes_used INTEGER NOT NULL,
    deleted INTEGER NOT NULL         -- delete_timestamp > put_timestamp
);
CREATE INDEX ix_containers_deleted_name ON containers (deleted, name);
CREATE TRIGGER containers_insert AFTER INSERT ON containers WHEN new.deleted = 0 BEGIN
    UPDATE policy_stat SET
        container_count = container_count + 1,
        object_count = object_count + new.object_count,
        bytes_used = bytes_used + new.bytes_used
    WHERE policy_index = 0;
END;
CREATE TRIGGER containers_delete AFTER DELETE ON containers WHEN old.deleted = 0 BEGIN
    UPDATE policy_stat SET
        container_count = container_count - 1,
        object_count = object_count - old.object_count,
        bytes_used = bytes_used - old.bytes_used
    WHERE policy_index = 0;
END;
CREATE TRIGGER containers_hash_insert AFTER INSERT ON containers BEGIN
    UPDATE info SET hash = chexor(hash, new.name, new.put_timestamp, new.delete_timestamp,
        new.stats_timestamp, new.object_count, new.bytes_used);
END;
CREATE TRIGGER containers_hash_delete AFTER DELETE ON containers BEGIN
    UPDATE info SET hash = chexor(hash, old.name, old.put_timestamp, old.delete_timestamp,
        old.stats_timestamp, old.object_count, old.bytes_used);
END;
CREATE TRIGGER containers_no_update BEFORE UPDATE ON containers BEGIN
    SELECT RAISE(ABORT, 'container rows are replaced, never updated');
END;
"""
)

"""Where a database lives, how it is born, and how it is opened.

::

    <devices_root>/<device>/containers/<partition>/<suffix>/<hash>/<hash>.db
    <devices_root>/<device>/accounts/<partition>/<suffix>/<hash>/<hash>.db

``hash`` is the same secret-wrapped MD5 as for objects (``/<account>/<container>`` or
``/<account>``), so the replicator walks database partitions exactly like object ones.
A database is built complete in ``<device>/tmp`` (schema, identity row, WAL mode) and
hard-linked into place: a reader never sees a half-made file, and of two racing creators
exactly one wins (``link`` refuses to replace, where ``rename`` would silently clobber).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import os
import re
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from stratus.objectstore.dbs.errors import CorruptDatabase, DbAlreadyExists
from stratus.objectstore.dbs.rows import EPOCH
from stratus.objectstore.dbs.schema import ACCOUNT_SCHEMA, CONTAINER_SCHEMA, FORMAT_VERSION
from stratus.objectstore.storage.errors import DeviceUnavailable
from stratus.objectstore.storage.hashdir import fsync_dir
from stratus.objectstore.storage.layout import PathHasher
from stratus.objectstore.storage.timestamp import Timestamp

_DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class DbKind(enum.StrEnum):
    """The directory under a device, and which schema the file holds."""

    CONTAINER = "containers"
    ACCOUNT = "accounts"

    @property
    def schema(self) -> str:
        return CONTAINER_SCHEMA if self is DbKind.CONTAINER else ACCOUNT_SCHEMA


@dataclass(frozen=True, slots=True)
class DbConfig:
    # refuse a device that is not a mount point (a missing disk must not fill the root fs)
    mount_check: bool = False
    # fsync the WAL on every commit (synchronous=FULL); off: only at checkpoints (NORMAL)
    fsync: bool = True
    # seconds SQLite waits for another process's write lock before failing
    busy_timeout: float = 25.0
    # database connections kept open per server process (least recently used closed first)
    max_open: int = 512
    # deleted rows and metadata older than this many seconds are purged by ``reclaim``
    reclaim_age: float = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class DbIdentity:
    """What a new database is created with (also what a replica is re-created from)."""

    account: str
    container: str | None
    created_at: Timestamp
    put_timestamp: Timestamp
    delete_timestamp: Timestamp = EPOCH

    @property
    def name(self) -> str:
        return f"/{self.account}" + (f"/{self.container}" if self.container is not None else "")


@dataclass(frozen=True, slots=True)
class DbLocation:
    """One database file on one device and partition."""

    devices_root: Path
    kind: DbKind
    device: str
    partition: int
    name_hash: str

    @property
    def device_dir(self) -> Path:
        return self.devices_root / self.device

    @property
    def hash_dir(self) -> Path:
        part = self.device_dir / self.kind.value / str(self.partition)
        return part / self.name_hash[-3:] / self.name_hash

    @property
    def path(self) -> Path:
        return self.hash_dir / f"{self.name_hash}.db"


def locate(
    devices_root: Path, kind: DbKind, device: str, partition: int, name_hash: str
) -> DbLocation:
    """A location whose device name cannot escape the devices root."""
    if not _DEVICE_NAME.fullmatch(device):
        raise DeviceUnavailable(device, "is not a valid device name")
    return DbLocation(devices_root, kind, device, partition, name_hash)


def db_hash(hasher: PathHasher, account: str, container: str | None = None) -> str:
    return hasher.hash_name(f"/{account}" + (f"/{container}" if container is not None else ""))


def check_device(loc: DbLocation, config: DbConfig) -> None:
    """Swift's 507: the device directory is missing, or not mounted when that is required."""
    if not loc.device_dir.is_dir():
        raise DeviceUnavailable(loc.device, "does not exist")
    if config.mount_check and not os.path.ismount(loc.device_dir):
        raise DeviceUnavailable(loc.device, "is not mounted")


def chexor(old: str, *fields: object) -> str:
    """XOR a row's digest into (or out of) a rolling hash: order-free, self-inverse."""
    raw = "\x00".join(str(f) for f in fields).encode("utf-8", "surrogateescape")
    digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    return f"{int(old, 16) ^ int(digest, 16):032x}"


def connect(path: Path, config: DbConfig) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit ``BEGIN IMMEDIATE``)."""
    conn = sqlite3.connect(
        str(path), timeout=config.busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        conn.create_function("chexor", -1, chexor, deterministic=True)
        conn.execute(f"PRAGMA synchronous = {'FULL' if config.fsync else 'NORMAL'}")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > FORMAT_VERSION:
            raise CorruptDatabase(str(path), f"format {version} is newer than this code")
        if version < 1:
            raise CorruptDatabase(str(path), "not a Stratus database")
    except (sqlite3.DatabaseError, CorruptDatabase) as exc:
        conn.close()
        if isinstance(exc, CorruptDatabase):
            raise
        raise CorruptDatabase(str(path), str(exc)) from exc
    return conn


def create(loc: DbLocation, identity: DbIdentity, config: DbConfig) -> None:
    """Build the file in ``<device>/tmp`` and link it into place; ``DbAlreadyExists`` if
    another request (or replication) got there first."""
    check_device(loc, config)
    tmp_dir = loc.device_dir / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    tmp = tmp_dir / f".db-{uuid.uuid4().hex}.db"
    try:
        _build(tmp, loc.kind, identity, config)
        loc.hash_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.link(tmp, loc.path)
        except FileExistsError:
            raise DbAlreadyExists(identity.name) from None
        if config.fsync:
            fsync_dir(loc.hash_dir)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _build(tmp: Path, kind: DbKind, identity: DbIdentity, config: DbConfig) -> None:
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        conn.create_function("chexor", -1, chexor, deterministic=True)
        conn.executescript(f"BEGIN; {kind.schema}")
        conn.execute(
            "INSERT INTO info (id, db_id, account, container, created_at, put_timestamp,"
            " delete_timestamp, status_changed_at) VALUES (0, ?, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                identity.account,
                identity.container,
                identity.created_at.internal,
                identity.put_timestamp.internal,
                identity.delete_timestamp.internal,
                identity.put_timestamp.internal,
            ),
        )
        conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")  # persistent: stored in the file header
    finally:
        conn.close()  # the last close checkpoints and removes the -wal file
    if config.fsync:
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())

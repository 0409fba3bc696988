"""The container database on a real SQLite file: rows, counts, listings, metadata."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stratus.common.errors import InvalidInput
from stratus.objectstore.dbs.container_broker import ContainerBroker, ObjectEntry
from stratus.objectstore.dbs.dbfile import DbConfig, DbIdentity, DbKind, locate
from stratus.objectstore.dbs.errors import DbAlreadyExists, DbNotFound
from stratus.objectstore.dbs.listing import ListingQuery, Subdir, successor
from stratus.objectstore.storage.errors import DeviceUnavailable
from stratus.objectstore.storage.timestamp import Timestamp

HASH = "0123456789abcdef0123456789abcdef"


def ts(n: float) -> Timestamp:
    return Timestamp.from_seconds(1_700_000_000 + n)


def make(root: Path, *, create: bool = True, name_hash: str = HASH) -> ContainerBroker:
    (root / "sda").mkdir(exist_ok=True)
    loc = locate(root, DbKind.CONTAINER, "sda", 7, name_hash)
    broker = ContainerBroker(loc, DbConfig(fsync=False))
    if create:
        broker.create(DbIdentity("AUTH_a", "c", ts(0), ts(0)))
    return broker


def names(entries: list[ObjectEntry | Subdir]) -> list[str]:
    return [e.subdir if isinstance(e, Subdir) else e.name for e in entries]


def test_file_layout_and_atomic_create(tmp_path: Path) -> None:
    broker = make(tmp_path)
    path = tmp_path / "sda" / "containers" / "7" / HASH[-3:] / HASH / f"{HASH}.db"
    assert broker.loc.path == path and path.is_file()
    assert list((tmp_path / "sda" / "tmp").iterdir()) == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with pytest.raises(DbAlreadyExists):
        broker.create(DbIdentity("AUTH_a", "c", ts(1), ts(1)))
    info = broker.info()
    assert (info.account, info.container, info.put_timestamp) == ("AUTH_a", "c", ts(0))
    broker.close()


def test_missing_db_and_device(tmp_path: Path) -> None:
    broker = make(tmp_path, create=False)
    with pytest.raises(DbNotFound):
        broker.info()
    gone = ContainerBroker(locate(tmp_path, DbKind.CONTAINER, "sdz", 1, HASH), DbConfig())
    with pytest.raises(DeviceUnavailable):
        gone.create(DbIdentity("a", "c", ts(0), ts(0)))
    with pytest.raises(DeviceUnavailable):
        locate(tmp_path, DbKind.CONTAINER, "../etc", 1, HASH)


def test_newest_row_wins_and_counts_follow(tmp_path: Path) -> None:
    b = make(tmp_path)
    b.put_object("o1", ts(2), 10, "text/plain", "e1")
    assert not b.put_object("o1", ts(1), 99, "text/plain", "old")  # older: ignored
    b.put_object("o2", ts(2), 5, "text/plain", "e2")
    info = b.info()
    assert (info.object_count, info.bytes_used) == (2, 15)
    b.delete_object("o1", ts(3))
    assert not b.put_object("o1", ts(2.5), 7, "x", "late")  # a late older PUT stays dead
    info = b.info()
    assert (info.object_count, info.bytes_used) == (1, 5)
    row = b.get_object("o1")
    assert row is not None and row.deleted
    b.put_object("o1", ts(4), 1, "x", "new")
    assert (b.info().object_count, b.info().bytes_used) == (2, 6)
    # a tombstone beats data of the same timestamp, whatever the arrival order
    b.put_object("o3", ts(5), 1, "x", "e")
    b.delete_object("o3", ts(5))
    assert b.get_object("o3").deleted  # type: ignore[union-attr]
    b.close()


def test_rows_are_replaced_never_updated(tmp_path: Path) -> None:
    b = make(tmp_path)
    b.put_object("o", ts(1), 1, "x", "e")
    with pytest.raises(sqlite3.DatabaseError), b.write() as conn:
        conn.execute("UPDATE objects SET size = 5")
    assert b.info().bytes_used == 1
    b.close()


@pytest.fixture
def listed(tmp_path: Path) -> ContainerBroker:
    b = make(tmp_path)
    all_names = [
        "a", "a/1", "a/2", "a/b/1", "b", "b/", "b/x", "c/d/e",
        "é", "é/1", "日本/語", "zz",
    ]  # fmt: skip
    for i, name in enumerate(all_names):
        b.put_object(name, ts(i + 1), i, "text/plain", f"e{i}")
    b.put_object("gone", ts(50), 1, "x", "e")
    b.delete_object("gone", ts(51))
    return b


def q(**kw: object) -> ListingQuery:
    return ListingQuery(**kw)  # type: ignore[arg-type]


def test_listing_filters(listed: ContainerBroker) -> None:
    lst = listed.list_objects
    assert names(lst(q()))[:3] == ["a", "a/1", "a/2"] and "gone" not in names(lst(q()))
    assert names(lst(q(limit=2))) == ["a", "a/1"]
    assert names(lst(q(marker="b/", limit=3))) == ["b/x", "c/d/e", "zz"]
    assert names(lst(q(marker="a/2", end_marker="b/"))) == ["a/b/1", "b"]
    assert names(lst(q(prefix="a/"))) == ["a/1", "a/2", "a/b/1"]
    assert names(lst(q(prefix="é"))) == ["é", "é/1"]
    assert names(lst(q(delimiter="/"))) == ["a", "a/", "b", "b/", "c/", "zz", "é", "é/", "日本/"]
    assert names(lst(q(prefix="a/", delimiter="/"))) == ["a/1", "a/2", "a/b/"]
    assert names(lst(q(delimiter="/", limit=3))) == ["a", "a/", "b"]
    assert names(lst(q(delimiter="/", marker="a/"))) == ["b", "b/", "c/", "zz", "é", "é/", "日本/"]
    assert names(lst(q(path="a"))) == ["a/1", "a/2"]
    assert names(lst(q(path="b"))) == ["b/x"]
    assert names(lst(q(path="日本"))) == ["日本/語"]
    assert names(lst(q(limit=0))) == []
    listed.close()


def test_listing_reverse(listed: ContainerBroker) -> None:
    lst = listed.list_objects
    forward = names(lst(q()))
    assert names(lst(q(reverse=True))) == forward[::-1]
    assert names(lst(q(reverse=True, limit=2))) == ["日本/語", "é/1"]
    assert names(lst(q(reverse=True, marker="b", end_marker="a"))) == ["a/b/1", "a/2", "a/1"]
    assert names(lst(q(reverse=True, delimiter="/"))) == [
        "日本/", "é/", "é", "zz", "c/", "b/", "b", "a/", "a",
    ]  # fmt: skip
    assert names(lst(q(reverse=True, prefix="a/", delimiter="/"))) == ["a/b/", "a/2", "a/1"]
    listed.close()


def test_full_walk_with_marker_matches_single_listing(listed: ContainerBroker) -> None:
    for reverse in (False, True):
        for delimiter in ("", "/"):
            whole = names(listed.list_objects(q(reverse=reverse, delimiter=delimiter)))
            walked: list[str] = []
            marker = ""
            while True:
                page = names(
                    listed.list_objects(
                        q(limit=2, marker=marker, reverse=reverse, delimiter=delimiter)
                    )
                )
                if not page:
                    break
                walked += page
                marker = page[-1]
            assert walked == whole, (reverse, delimiter)
    listed.close()


def test_successor() -> None:
    assert successor("a/") == "a0"
    assert successor("a\U0010ffff") == "b"
    assert successor("\U0010ffff") is None
    assert successor("\ud7ff") == "\ue000"


def test_metadata_newest_wins_per_key(tmp_path: Path) -> None:
    b = make(tmp_path)
    b.update_metadata({"x-container-meta-a": ("1", ts(2)), "x-container-meta-b": ("x", ts(2))})
    b.update_metadata({"x-container-meta-a": ("old", ts(1)), "x-container-meta-b": ("", ts(3))})
    assert b.info().live_metadata == {"x-container-meta-a": "1"}

    def refuse(live: object) -> None:
        raise InvalidInput("t", "no")

    with pytest.raises(InvalidInput):
        b.update_metadata({"x-container-meta-c": ("v", ts(4))}, refuse)
    assert "x-container-meta-c" not in b.info().metadata  # rolled back
    b.close()


def test_deleted_semantics(tmp_path: Path) -> None:
    b = make(tmp_path)
    b.put_object("o", ts(1), 1, "x", "e")
    info = b.delete_db(ts(2))
    assert not info.is_deleted  # not empty: still there
    b.delete_object("o", ts(3))
    assert b.info().is_deleted
    with pytest.raises(DbNotFound) as exc:
        b.live_info()
    assert exc.value.delete == ts(2)
    _, after = b.merge_timestamps(put=ts(4))
    assert not after.is_deleted and after.status_changed_at == ts(4)
    b.close()


def test_reclaim_purges_old_tombstones(tmp_path: Path) -> None:
    b = make(tmp_path)
    b.put_object("o", ts(1), 1, "x", "e")
    b.delete_object("o", ts(2))
    b.delete_object("p", ts(10))
    assert b.reclaim(ts(5)) == 1
    assert b.get_object("o") is None and b.get_object("p") is not None
    b.close()

"""The account database: container rows merged field by field, and account totals."""

from __future__ import annotations

from pathlib import Path

from stratus.objectstore.dbs.account_broker import AccountBroker
from stratus.objectstore.dbs.dbfile import DbConfig, DbIdentity, DbKind, locate
from stratus.objectstore.dbs.listing import ListingQuery, Subdir
from stratus.objectstore.dbs.rows import ContainerRow
from stratus.objectstore.storage.timestamp import Timestamp

HASH = "fedcba9876543210fedcba9876543210"


def ts(n: float) -> Timestamp:
    return Timestamp.from_seconds(1_700_000_000 + n)


def make(root: Path) -> AccountBroker:
    (root / "sda").mkdir(exist_ok=True)
    broker = AccountBroker(locate(root, DbKind.ACCOUNT, "sda", 3, HASH), DbConfig(fsync=False))
    broker.create(DbIdentity("AUTH_a", None, ts(0), ts(0)))
    return broker


def totals(b: AccountBroker) -> tuple[int, int, int]:
    info = b.info()
    return info.container_count, info.object_count, info.bytes_used


def test_container_rows_and_totals(tmp_path: Path) -> None:
    b = make(tmp_path)
    b.put_container(ContainerRow("c1", ts(1), stats_timestamp=ts(1)))
    b.put_container(ContainerRow("c2", ts(1), stats_timestamp=ts(1), object_count=3, bytes_used=30))
    assert totals(b) == (2, 3, 30)
    # newer stats replace the counts; older ones are ignored
    b.put_container(ContainerRow("c1", ts(1), stats_timestamp=ts(5), object_count=2, bytes_used=7))
    b.put_container(ContainerRow("c1", ts(1), stats_timestamp=ts(4), object_count=9, bytes_used=9))
    assert totals(b) == (2, 5, 37)
    # a delete newer than the put hides the row and its counts
    merged = b.put_container(ContainerRow("c2", ts(1), ts(6), ts(6)))
    assert merged.deleted
    assert totals(b) == (1, 2, 7)
    # a put older than that delete does not bring it back; a newer one does
    assert b.put_container(ContainerRow("c2", ts(2), stats_timestamp=ts(7))).deleted
    assert not b.put_container(ContainerRow("c2", ts(8), stats_timestamp=ts(8))).deleted
    assert totals(b) == (2, 2, 7)
    b.close()


def test_account_listing(tmp_path: Path) -> None:
    b = make(tmp_path)
    for i, name in enumerate(["a", "a-1", "a-2", "b", "ç", "ç-x"]):
        b.put_container(ContainerRow(name, ts(i + 1), stats_timestamp=ts(i), object_count=i))
    b.put_container(ContainerRow("dead", ts(1), ts(2)))
    listing = b.list_containers(ListingQuery(delimiter="-"))
    got = [e.subdir if isinstance(e, Subdir) else (e.name, e.object_count) for e in listing]
    assert got == [("a", 0), "a-", ("b", 3), ("ç", 4), "ç-"]
    rev = b.list_containers(ListingQuery(reverse=True, limit=2, marker="b"))
    assert [e.name for e in rev if not isinstance(e, Subdir)] == ["a-2", "a-1"]
    b.close()


def test_account_deleted_and_revived(tmp_path: Path) -> None:
    b = make(tmp_path)
    b.put_container(ContainerRow("c", ts(1)))
    assert b.delete_db(ts(2)).is_deleted  # accounts need not be empty (the reaper empties)
    assert not b.merge_timestamps(put=ts(3))[1].is_deleted
    b.close()

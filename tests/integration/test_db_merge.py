"""Replicas of one database diverge, then replicate both ways and must be identical."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from stratus.objectstore.dbs.account_broker import AccountBroker
from stratus.objectstore.dbs.broker import Broker, DbInfo
from stratus.objectstore.dbs.container_broker import ContainerBroker
from stratus.objectstore.dbs.dbfile import DbConfig, DbIdentity, DbKind, db_hash, locate
from stratus.objectstore.dbs.listing import ListingQuery
from stratus.objectstore.dbs.merge import LocalPeer, replicate
from stratus.objectstore.dbs.registry import AsyncDb
from stratus.objectstore.dbs.rows import ContainerRow, ObjectRow
from stratus.objectstore.storage.layout import PathHasher
from stratus.objectstore.storage.timestamp import Timestamp

CONFIG = DbConfig(fsync=False)


def ts(n: float) -> Timestamp:
    return Timestamp.from_seconds(1_700_000_000 + n)


def container(root: Path, dev: str, *, create: bool = True) -> AsyncDb[ContainerBroker]:
    (root / dev).mkdir(exist_ok=True)
    name_hash = db_hash(PathHasher(b"p", b"s"), "AUTH_a", "c")
    b = ContainerBroker(locate(root, DbKind.CONTAINER, dev, 1, name_hash), CONFIG)
    if create:
        b.create(DbIdentity("AUTH_a", "c", ts(0), ts(0)))
    return AsyncDb(b)


def account(root: Path, dev: str) -> AsyncDb[AccountBroker]:
    (root / dev).mkdir(exist_ok=True)
    name_hash = db_hash(PathHasher(b"p", b"s"), "AUTH_a")
    b = AccountBroker(locate(root, DbKind.ACCOUNT, dev, 1, name_hash), CONFIG)
    b.create(DbIdentity("AUTH_a", None, ts(0), ts(0)))
    return AsyncDb(b)


def state(b: Broker[object]) -> tuple[object, ...]:
    info: DbInfo = b.info()
    everything = b.rows_since(-1, 10**9)
    rows = sorted(str(row) for _, row in everything)
    listing = (
        b.list_objects(ListingQuery())  # type: ignore[attr-defined]
        if isinstance(b, ContainerBroker)
        else b.list_containers(ListingQuery())  # type: ignore[attr-defined]
    )
    return (
        rows,
        listing,
        info.hash,
        info.object_count,
        info.bytes_used,
        info.container_count,
        info.put_timestamp,
        info.delete_timestamp,
        info.status_changed_at,
        dict(info.metadata),
    )


async def both_ways(a: AsyncDb[Broker[object]], b: AsyncDb[Broker[object]]) -> None:
    await replicate(a, LocalPeer(b), batch=7)
    await replicate(b, LocalPeer(a), batch=7)


def random_ops(seed: int) -> list[ObjectRow]:
    rng = random.Random(seed)
    ops = []
    for i in range(300):
        name = f"obj-{rng.randrange(60)}/ü{rng.randrange(3)}"
        when = ts(rng.randrange(1, 40) + (i % 3) * 0.00001)
        if rng.random() < 0.3:
            ops.append(ObjectRow(name, when, deleted=True))
        else:
            ops.append(ObjectRow(name, when, rng.randrange(1000), "text/plain", f"e{i}"))
    return ops


async def test_containers_converge_whatever_the_order(tmp_path: Path) -> None:
    a, b = container(tmp_path, "sda"), container(tmp_path, "sdb")
    ops = random_ops(1)
    half = len(ops) // 2
    shuffled = ops[:]
    random.Random(2).shuffle(shuffled)
    # a sees the first half in order, b the rest shuffled, plus overlapping updates
    await a.call(lambda br: br.merge_items(ops[:half] + ops[-20:]))
    for row in shuffled[:]:
        if row in ops[half:] or row in ops[:10]:
            await b.merge_row(row)
    await a.call(lambda br: br.update_metadata({"x-container-meta-k": ("a", ts(5))}))
    await b.call(lambda br: br.update_metadata({"x-container-meta-k": ("b", ts(6))}))
    await b.call(lambda br: br.merge_timestamps(put=ts(7)))
    assert await a.call(state) != await b.call(state)
    await both_ways(a, b)  # type: ignore[arg-type]
    sa, sb = await a.call(state), await b.call(state)
    assert sa == sb
    # the result is what one database applying every op in any order holds
    ref = container(tmp_path, "sdc")
    await ref.call(lambda br: br.merge_items(list(reversed(ops))))
    assert (await ref.call(state))[:5] == sa[:5]
    assert sa[-1]["x-container-meta-k"][0] == "b" and sa[6] == ts(7)
    # another pass sends nothing: the hashes match
    assert await replicate(a, LocalPeer(b)) == 0  # type: ignore[arg-type]


async def test_tombstones_propagate_and_beat_late_puts(tmp_path: Path) -> None:
    a, b = container(tmp_path, "sda"), container(tmp_path, "sdb")
    await a.call(lambda br: br.put_object("o", ts(1), 10, "x", "e"))
    await both_ways(a, b)  # type: ignore[arg-type]
    await b.call(lambda br: br.delete_object("o", ts(2)))
    await a.call(lambda br: br.put_object("p", ts(3), 5, "x", "e"))
    await both_ways(a, b)  # type: ignore[arg-type]
    for db in (a, b):
        info = await db.call(Broker.info)
        assert (info.object_count, info.bytes_used) == (1, 5)
        row = await db.call(lambda br: br.get_object("o"))
        assert row is not None and row.deleted
    # the container's own delete travels too
    await a.call(lambda br: br.delete_object("p", ts(4)))
    await a.call(lambda br: br.delete_db(ts(5)))
    await both_ways(a, b)  # type: ignore[arg-type]
    assert (await b.call(Broker.info)).is_deleted


async def test_sync_points_resume_and_missing_replica_is_created(tmp_path: Path) -> None:
    a = container(tmp_path, "sda")
    await a.call(lambda br: br.merge_items(random_ops(3)))
    empty = container(tmp_path, "sdb", create=False)
    sent = await replicate(a, LocalPeer(empty), batch=50)  # type: ignore[arg-type]
    assert sent > 0
    assert await a.call(state) == await empty.call(state)
    info_a = await a.call(Broker.info)
    assert await empty.call(lambda br: br.sync_point(info_a.db_id)) == info_a.max_row
    # only newer rows go next time
    await a.call(lambda br: br.put_object("new", ts(100), 1, "x", "e"))
    assert await replicate(a, LocalPeer(empty)) == 1  # type: ignore[arg-type]


async def test_accounts_converge(tmp_path: Path) -> None:
    a, b = account(tmp_path, "sda"), account(tmp_path, "sdb")
    await a.call(
        lambda br: br.put_container(
            ContainerRow("c1", ts(1), stats_timestamp=ts(2), object_count=4, bytes_used=40)
        )
    )
    await b.call(
        lambda br: br.put_container(
            ContainerRow("c1", ts(1), stats_timestamp=ts(3), object_count=5, bytes_used=50)
        )
    )
    await b.call(lambda br: br.put_container(ContainerRow("c2", ts(1), ts(4), ts(4))))
    await a.call(
        lambda br: br.put_container(
            ContainerRow("c2", ts(3), stats_timestamp=ts(3), object_count=1)
        )
    )
    await a.call(
        lambda br: br.put_container(
            ContainerRow("c3", ts(1), stats_timestamp=ts(1), object_count=2, bytes_used=2)
        )
    )
    await both_ways(a, b)  # type: ignore[arg-type]
    sa, sb = await a.call(state), await b.call(state)
    assert sa == sb
    info = await a.call(Broker.info)
    assert (info.container_count, info.object_count, info.bytes_used) == (2, 7, 52)


@pytest.mark.parametrize("seed", range(5))
async def test_three_replicas_any_pass_order(tmp_path: Path, seed: int) -> None:
    dbs = [container(tmp_path, d) for d in ("sda", "sdb", "sdc")]
    rng = random.Random(seed)
    for row in random_ops(seed):
        await rng.choice(dbs).merge_row(row)
    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    rng.shuffle(pairs)
    for i, j in pairs + pairs:
        await replicate(dbs[i], LocalPeer(dbs[j]))  # type: ignore[arg-type]
    states = [await db.call(state) for db in dbs]
    assert states[0] == states[1] == states[2]

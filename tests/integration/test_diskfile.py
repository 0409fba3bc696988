"""The storage layer on real files: atomic visibility, newest-wins in any arrival order,
tombstones, integrity checks, quarantine and suffix hashes, with metadata in xattrs and in
sidecar files."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import subprocess
import time
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from stratus.objectstore.storage.config import DiskConfig, MetadataStore
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.errors import (
    DeviceUnavailable,
    EtagMismatch,
    LengthMismatch,
    NewerExists,
    ObjectDeleted,
    ObjectExpired,
    ObjectNotFound,
)
from stratus.objectstore.storage.layout import ObjectAddress, PathHasher
from stratus.objectstore.storage.metadata import (
    XATTR_KEY,
    ObjectMetadata,
    read_metadata,
    sidecar_path,
)
from stratus.objectstore.storage.timestamp import Timestamp

HASHER = PathHasher(b"prefix-secret", b"suffix-secret")
OBJ = ObjectAddress("sda", 7, "AUTH_a", "c", "dir/o")


BASE = int(time.time())  # recent, so tombstones are not yet reclaimable


def ts(seconds: float) -> Timestamp:
    return Timestamp.from_seconds(BASE + seconds)


def make_manager(root: Path, store: MetadataStore, **overrides: object) -> DiskFileManager:
    for device in ("sda", "sdb"):
        (root / device).mkdir(parents=True, exist_ok=True)
    config = DiskConfig(metadata_store=store, **overrides)  # type: ignore[arg-type]
    return DiskFileManager(root, hasher=HASHER, config=config)


@pytest.fixture(
    params=[
        (MetadataStore.XATTR, True),
        (MetadataStore.SIDECAR, True),
        (MetadataStore.XATTR, False),
    ],
    ids=["xattr-direct", "sidecar-direct", "xattr-buffered"],
)
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> DiskFileManager:
    store, direct = request.param
    return make_manager(tmp_path / "srv", store, write_buffer=64 * 1024, direct_io=direct)


async def put(
    disk: DiskFileManager,
    when: Timestamp,
    body: bytes,
    addr: ObjectAddress = OBJ,
    **meta: object,
) -> ObjectMetadata:
    writer = await disk.create(addr, when, expected_length=len(body))
    async with writer:
        for i in range(0, len(body), 10_000):
            await writer.write(body[i : i + 10_000])
        base = ObjectMetadata(name=addr.name, timestamp=when, content_type="text/plain")
        return await writer.commit(base.updated(**meta))


async def read_all(disk: DiskFileManager, addr: ObjectAddress = OBJ) -> bytes:
    reader = await disk.open(addr)
    try:
        return b"".join([c async for c in reader.chunks()])
    finally:
        reader.close()


def visible_files(disk: DiskFileManager, device: str = "sda") -> list[str]:
    objects = disk.devices_root / device / "objects"
    return sorted(
        str(p.relative_to(objects))
        for p in objects.rglob("*")
        if p.is_file() and p.parent.parent.parent.parent == objects and p.name[0] != "."
    )


def tmp_files(disk: DiskFileManager, device: str = "sda") -> list[str]:
    tmp = disk.devices_root / device / "tmp"
    return os.listdir(tmp) if tmp.exists() else []


# ---- writes and reads -------------------------------------------------------------------


async def test_put_then_get_round_trips_data_and_metadata(disk: DiskFileManager) -> None:
    body = os.urandom(200_000)
    stored = await put(disk, ts(1), body, user_meta={"color": "blue"}, delete_at=None)
    assert stored.etag == hashlib.md5(body).hexdigest()
    assert await read_all(disk) == body
    reader = await disk.open(OBJ)
    reader.close()
    view = reader.view
    assert (view.content_length, view.etag, view.content_type) == (
        len(body),
        stored.etag,
        "text/plain",
    )
    assert view.user_meta == {"color": "blue"}
    assert view.data_timestamp == ts(1)
    assert tmp_files(disk) == []


@pytest.mark.parametrize("length_given", [True, False], ids=["sized", "chunked"])
@pytest.mark.parametrize(
    "size", [64 * 1024 + 1, 3 * 64 * 1024, 3 * 64 * 1024 + 4095, 5 * 64 * 1024 + 4096 + 7]
)
async def test_bodies_of_every_alignment_round_trip(
    disk: DiskFileManager, size: int, length_given: bool
) -> None:
    """Whole buffers, whole blocks and a ragged tail: what is read is what was sent,
    with the ETag and CRC-32 of exactly those bytes."""
    body = os.urandom(size)
    writer = await disk.create(OBJ, ts(1), expected_length=size if length_given else None)
    async with writer:
        for i in range(0, size, 10_007):  # pieces that never line up with a block
            await writer.write(body[i : i + 10_007])
        stored = await writer.commit(ObjectMetadata(name=OBJ.name, timestamp=ts(1)))
    assert (stored.content_length, stored.etag) == (size, hashlib.md5(body).hexdigest())
    assert stored.crc32 == zlib.crc32(body)
    assert await read_all(disk) == body
    assert tmp_files(disk) == []


@pytest.mark.parametrize("direct", [True, False])
async def test_a_large_body_bypasses_the_page_cache_only_with_direct_io(
    tmp_path: Path, direct: bool
) -> None:
    """``fincore`` counts a file's pages in the page cache: a body written with O_DIRECT
    leaves at most its unaligned tail there, a buffered one all of it (until evicted)."""
    disk = make_manager(tmp_path / "srv", MetadataStore.XATTR, direct_io=direct)
    size = 8 * 2**20 + 100
    await put(disk, ts(1), os.urandom(size))
    (data,) = (disk.devices_root / "sda" / "objects").rglob("*.data")
    cached = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(data)],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    if direct:
        assert int(cached) <= 4096
    else:
        assert int(cached) >= size - 4096


async def test_metadata_lives_where_the_mode_says(disk: DiskFileManager) -> None:
    await put(disk, ts(1), b"x")
    hash_dir = disk.locate(OBJ).hash_dir
    data = hash_dir / f"{ts(1).internal}.data"
    sidecar = hash_dir / f".{data.name}.json"
    if disk.config.metadata_store is MetadataStore.XATTR:
        assert b'"etag"' in os.getxattr(data, XATTR_KEY)
        assert not sidecar.exists()
    else:
        assert not os.listxattr(data)
        assert b'"etag"' in sidecar.read_bytes()


async def test_auto_mode_falls_back_to_a_sidecar_for_large_metadata(tmp_path: Path) -> None:
    disk = make_manager(tmp_path, MetadataStore.AUTO)
    big = {f"k{i}": "v" * 200 for i in range(40)}  # ~8 KiB: beyond ext4's one xattr block
    await put(disk, ts(1), b"small", user_meta={"k": "v"})
    await put(disk, ts(1), b"small", addr=ObjectAddress("sda", 7, "a", "c", "big"), user_meta=big)
    reader = await disk.open(ObjectAddress("sda", 7, "a", "c", "big"))
    reader.close()
    assert reader.view.user_meta == big
    assert (await disk.open(OBJ)).view.user_meta == {"k": "v"}


# ---- atomic visibility ------------------------------------------------------------------


async def test_a_write_that_fails_midway_leaves_nothing(disk: DiskFileManager) -> None:
    writer = await disk.create(OBJ, ts(1), expected_length=1_000_000)
    with pytest.raises(ConnectionResetError):
        async with writer:
            await writer.write(b"a" * 300_000)
            raise ConnectionResetError("client went away")
    assert visible_files(disk) == []
    assert tmp_files(disk) == []
    with pytest.raises(ObjectNotFound):
        await disk.open(OBJ)


async def test_a_cancelled_upload_leaves_nothing(disk: DiskFileManager) -> None:
    started = asyncio.Event()

    async def upload() -> None:
        writer = await disk.create(OBJ, ts(1))
        async with writer:
            for _ in range(1000):
                await writer.write(b"b" * 65536)
                started.set()
                await asyncio.sleep(0)
            await writer.commit(ObjectMetadata(name=OBJ.name, timestamp=ts(1)))

    task = asyncio.create_task(upload())
    await started.wait()
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # a write in a worker thread finishes, then the fd closes
    assert visible_files(disk) == []
    assert tmp_files(disk) == []


async def test_short_body_and_etag_mismatch_leave_nothing(disk: DiskFileManager) -> None:
    meta = ObjectMetadata(name=OBJ.name, timestamp=ts(1))
    writer = await disk.create(OBJ, ts(1), expected_length=10)
    with pytest.raises(LengthMismatch):
        async with writer:
            await writer.write(b"12345")
            await writer.commit(meta)
    writer = await disk.create(OBJ, ts(1), expected_length=3)
    with pytest.raises(LengthMismatch):
        async with writer:
            await writer.write(b"12345")
    writer = await disk.create(OBJ, ts(1), expected_etag='"' + "0" * 32 + '"')
    with pytest.raises(EtagMismatch):
        async with writer:
            await writer.write(b"12345")
            await writer.commit(meta)
    assert visible_files(disk) == []
    assert tmp_files(disk) == []
    writer = await disk.create(OBJ, ts(1), expected_etag=hashlib.md5(b"12345").hexdigest())
    async with writer:
        await writer.write(b"12345")
        await writer.commit(meta)
    assert await read_all(disk) == b"12345"


# ---- newest timestamp wins --------------------------------------------------------------

Op = Callable[[DiskFileManager], Awaitable[object]]


def put_op(when: float, body: bytes) -> Op:
    return lambda disk: put(disk, ts(when), body)


def delete_op(when: float) -> Op:
    return lambda disk: disk.delete(OBJ, ts(when))


def post_op(when: float, meta: dict[str, str], ctype: str | None = None) -> Op:
    return lambda disk: disk.post(OBJ, ts(when), user_meta=meta, content_type=ctype)


async def apply(disk: DiskFileManager, ops: tuple[Op, ...]) -> None:
    for op in ops:
        with contextlib.suppress(NewerExists, ObjectNotFound):  # refused: newer is there
            await op(disk)


@pytest.mark.parametrize("store", [MetadataStore.XATTR, MetadataStore.SIDECAR])
async def test_put_and_delete_in_any_order_converge(tmp_path: Path, store: MetadataStore) -> None:
    ops = (put_op(1, b"one"), put_op(2, b"two"), delete_op(3), put_op(4, b"four"))
    results = set()
    for n, order in enumerate(itertools.permutations(ops)):
        disk = make_manager(tmp_path / str(n), store)
        await apply(disk, order)
        assert await read_all(disk) == b"four"
        results.add(tuple(visible_files(disk)))
    assert len(results) == 1  # every replica ends up with the same files


async def test_delete_newest_wins_over_any_put(disk: DiskFileManager) -> None:
    for order in itertools.permutations((put_op(1, b"a"), delete_op(2), put_op(1.5, b"b"))):
        await apply(disk, order)
        with pytest.raises(ObjectDeleted) as info:
            await disk.open(OBJ)
        assert info.value.timestamp == ts(2)


async def test_posts_in_any_order_converge(tmp_path: Path) -> None:
    posts = (
        post_op(2, {"color": "red"}, ctype="image/png"),
        post_op(3, {"color": "blue"}),
        post_op(0.5, {"color": "stale"}, ctype="stale/type"),  # older than the data
    )
    seen = set()
    for n, order in enumerate(itertools.permutations(posts)):
        disk = make_manager(tmp_path / str(n), MetadataStore.XATTR)
        await put(disk, ts(1), b"data")
        await apply(disk, order)
        reader = await disk.open(OBJ)
        reader.close()
        assert reader.view.user_meta == {"color": "blue"}
        assert reader.view.content_type == "image/png"
        assert reader.view.timestamp == ts(3)
        seen.add(tuple(visible_files(disk)))
    assert len(seen) == 1


async def test_an_older_put_is_refused_with_the_newer_timestamp(disk: DiskFileManager) -> None:
    await put(disk, ts(5), b"new")
    for when in (4, 5):
        with pytest.raises(NewerExists) as info:
            await put(disk, ts(when), b"old")
        assert info.value.newer == ts(5)
    with pytest.raises(NewerExists):
        await disk.delete(OBJ, ts(4))
    with pytest.raises(NewerExists):
        await disk.post(OBJ, ts(5), user_meta={})
    assert await read_all(disk) == b"new"
    assert tmp_files(disk) == []


async def test_a_put_newer_than_a_post_drops_the_post(disk: DiskFileManager) -> None:
    await put(disk, ts(1), b"a", user_meta={"from": "put1"})
    await disk.post(OBJ, ts(2), user_meta={"from": "post"})
    await put(disk, ts(3), b"b", user_meta={"from": "put3"})
    reader = await disk.open(OBJ)
    reader.close()
    assert reader.view.user_meta == {"from": "put3"}
    assert [Path(f).name for f in visible_files(disk)] == [f"{ts(3).internal}.data"]


# ---- tombstones and expiry --------------------------------------------------------------


async def test_tombstone_semantics(disk: DiskFileManager) -> None:
    outcome = await disk.delete(OBJ, ts(2))
    assert not outcome.existed  # nothing was there, but the tombstone is written
    with pytest.raises(NewerExists) as refused:
        await put(disk, ts(1), b"late")  # an older PUT arriving after the DELETE
    assert refused.value.newer == ts(2)
    with pytest.raises(ObjectDeleted):
        await disk.post(OBJ, ts(3), user_meta={})
    await put(disk, ts(4), b"back")
    outcome = await disk.delete(OBJ, ts(5))
    assert outcome.existed and outcome.previous == ts(4)
    assert [Path(f).name for f in visible_files(disk)] == [f"{ts(5).internal}.ts"]


async def test_expired_object_reads_as_not_found(disk: DiskFileManager) -> None:
    await put(disk, ts(1), b"x", delete_at=int(time.time()) - 1)
    with pytest.raises(ObjectExpired) as info:
        await disk.open(OBJ)
    assert info.value.timestamp == ts(1)
    await disk.post(OBJ, ts(2), user_meta={}, delete_at=None)  # a POST clears X-Delete-At
    assert await read_all(disk) == b"x"


async def test_unavailable_device(disk: DiskFileManager) -> None:
    for device in ("sdz", "..", "a/b", ""):
        addr = ObjectAddress(device, 1, "a", "c", "o")
        with pytest.raises(DeviceUnavailable):
            await disk.open(addr)
        with pytest.raises(DeviceUnavailable):
            await disk.create(addr, ts(1))


async def test_a_small_body_touches_the_disk_only_at_commit(disk: DiskFileManager) -> None:
    """A body announced smaller than the write buffer is written in the commit's single
    worker-thread hop; the device and newer-version checks happen there too."""
    writer = await disk.create(OBJ, ts(1), expected_length=5)
    async with writer:
        await writer.write(b"12345")
        assert tmp_files(disk) == []  # nothing created yet
        await writer.commit(ObjectMetadata(name=OBJ.name, timestamp=ts(1)))
    assert await read_all(disk) == b"12345"
    missing = ObjectAddress("sdz", 1, "a", "c", "o")
    writer = await disk.create(missing, ts(1), expected_length=1)  # refused at commit
    with pytest.raises(DeviceUnavailable):
        async with writer:
            await writer.write(b"x")
            await writer.commit(ObjectMetadata(name=missing.name, timestamp=ts(1)))
    assert tmp_files(disk) == []


# ---- ranges and integrity ---------------------------------------------------------------


async def test_range_reads_cross_chunk_boundaries(tmp_path: Path) -> None:
    disk = make_manager(tmp_path, MetadataStore.XATTR, read_chunk=1000)
    body = os.urandom(10_000)
    await put(disk, ts(1), body)
    reader = await disk.open(OBJ)
    try:
        for start, stop in [(0, 1), (999, 1001), (1500, 7777), (9999, 10_000), (0, 10_000)]:
            chunks = [c async for c in reader.chunks(start, stop)]
            assert b"".join(chunks) == body[start:stop]
            assert all(len(c) <= 1000 for c in chunks)
    finally:
        reader.close()


async def test_size_mismatch_is_quarantined(disk: DiskFileManager) -> None:
    await put(disk, ts(1), b"hello")
    loc = disk.locate(OBJ)
    with open(loc.hash_dir / f"{ts(1).internal}.data", "ab") as f:
        f.write(b" world")
    with pytest.raises(ObjectNotFound):
        await disk.open(OBJ)
    assert not loc.hash_dir.exists()
    quarantined = disk.devices_root / "sda" / "quarantined" / "objects" / loc.name_hash
    assert (quarantined / f"{ts(1).internal}.data").exists()


async def test_bit_rot_is_quarantined_after_a_full_read(disk: DiskFileManager) -> None:
    await put(disk, ts(1), b"hello")
    loc = disk.locate(OBJ)
    (loc.hash_dir / f"{ts(1).internal}.data").write_bytes(b"jello")  # same size, other bytes
    assert await read_all(disk) == b"jello"  # already sent when the MD5 is known
    with pytest.raises(ObjectNotFound):
        await disk.open(OBJ)
    assert (disk.devices_root / "sda" / "quarantined" / "objects" / loc.name_hash).is_dir()


async def test_reads_are_checked_by_the_crc32_the_writer_recorded(tmp_path: Path) -> None:
    disk = make_manager(tmp_path, MetadataStore.XATTR, read_chunk=1000)
    body = os.urandom(10_000)
    stored = await put(disk, ts(1), body)
    assert stored.crc32 == zlib.crc32(body)
    reader = await disk.open(OBJ)
    reader.close()
    assert reader.view.crc32 == zlib.crc32(body)
    assert await read_all(disk) == body  # a good copy stays
    path = disk.locate(OBJ).hash_dir / f"{ts(1).internal}.data"
    rotten = bytearray(body)
    rotten[7777] ^= 0x01
    path.write_bytes(rotten)
    assert await read_all(disk) == rotten  # streamed in 10 chunks, checked at the end
    with pytest.raises(ObjectNotFound):
        await disk.open(OBJ)


async def test_data_stored_without_a_crc32_is_checked_by_its_md5(disk: DiskFileManager) -> None:
    """Versions written before the CRC-32 was recorded: reads fall back to the ETag."""
    body = b"x" * 5000
    await put(disk, ts(1), body)
    path = disk.locate(OBJ).hash_dir / f"{ts(1).internal}.data"
    fd = os.open(path, os.O_RDONLY)
    try:
        old = read_metadata(fd, path).updated(crc32=None)
        if disk.config.metadata_store is MetadataStore.XATTR:
            os.setxattr(fd, XATTR_KEY, old.to_bytes())
        else:
            sidecar_path(path).write_bytes(old.to_bytes())
    finally:
        os.close(fd)
    assert await read_all(disk) == body  # good data without a CRC-32 is not quarantined
    path.write_bytes(b"y" + body[1:])
    reader = await disk.open(OBJ)
    assert reader.view.crc32 is None
    try:
        with pytest.raises(ObjectNotFound):
            await reader.verified_body()  # fits one read: checked before any byte goes out
    finally:
        reader.close()
    with pytest.raises(ObjectNotFound):
        await disk.open(OBJ)


async def test_explicit_quarantine_and_name_collisions(disk: DiskFileManager) -> None:
    for _ in range(2):
        await put(disk, ts(1), b"x")
        assert await disk.quarantine(OBJ, "test") is not None
    assert await disk.quarantine(OBJ, "gone") is None
    moved = os.listdir(disk.devices_root / "sda" / "quarantined" / "objects")
    assert len(moved) == 2


# ---- suffix hashes ----------------------------------------------------------------------


async def test_suffix_hashes_track_changes(disk: DiskFileManager) -> None:
    suffix = disk.locate(OBJ).suffix
    assert await disk.suffix_hashes("sda", OBJ.partition) == {}
    await put(disk, ts(1), b"a")
    first = await disk.suffix_hashes("sda", OBJ.partition)
    assert set(first) == {suffix} and first[suffix]
    assert await disk.suffix_hashes("sda", OBJ.partition) == first  # cached, unchanged
    await disk.post(OBJ, ts(2), user_meta={"k": "v"})
    second = await disk.suffix_hashes("sda", OBJ.partition)
    assert second[suffix] != first[suffix]
    await disk.delete(OBJ, ts(3))
    third = await disk.suffix_hashes("sda", OBJ.partition)
    assert third[suffix] not in (first[suffix], second[suffix])


async def test_suffix_hashes_cache_is_replaced_only_when_it_changes(
    disk: DiskFileManager,
) -> None:
    """Asking again for unchanged hashes leaves the cache file alone; a write replaces it
    with the new hashes. (A hard link keeps the first file's inode from being reused.)"""
    cache = disk.locate(OBJ).partition_dir / "hashes.json"
    await put(disk, ts(1), b"a")
    first = await disk.suffix_hashes("sda", OBJ.partition)
    kept = cache.with_name("kept")
    kept.hardlink_to(cache)
    for _ in range(3):
        assert await disk.suffix_hashes("sda", OBJ.partition) == first
    assert cache.samefile(kept)
    await put(disk, ts(2), b"b")
    second = await disk.suffix_hashes("sda", OBJ.partition)
    assert second != first
    assert not cache.samefile(kept)
    assert json.loads(cache.read_bytes())["hashes"] == second


async def test_suffix_hashes_match_between_devices(disk: DiskFileManager) -> None:
    names = [ObjectAddress("sda", 3, "a", "c", f"o{i}") for i in range(20)]
    for n, addr in enumerate(names):
        for device in ("sda", "sdb"):
            twin = ObjectAddress(device, addr.partition, addr.account, addr.container, addr.obj)
            await put(disk, ts(n), f"body{n}".encode(), addr=twin)
    a = await disk.suffix_hashes("sda", 3)
    b = await disk.suffix_hashes("sdb", 3)
    assert a == b and len(a) > 1
    await disk.delete(names[0], ts(100))
    a = await disk.suffix_hashes("sda", 3)
    changed = {s for s in a if a[s] != b.get(s)}
    assert changed == {disk.locate(names[0]).suffix}
    twin = ObjectAddress("sdb", 3, "a", "c", "o0")
    await disk.delete(twin, ts(100))
    assert await disk.suffix_hashes("sdb", 3) == a


async def test_recalculate_and_listdir_repair_a_stale_cache(disk: DiskFileManager) -> None:
    await put(disk, ts(1), b"a")
    loc = disk.locate(OBJ)
    before = await disk.suffix_hashes("sda", OBJ.partition)
    # a version placed behind the cache's back (as a crash before invalidation would)
    (loc.hash_dir / f"{ts(1).internal}.data").rename(loc.hash_dir / f"{ts(2).internal}.data")
    assert await disk.suffix_hashes("sda", OBJ.partition) == before
    after = await disk.suffix_hashes("sda", OBJ.partition, recalculate=[loc.suffix])
    assert after[loc.suffix] != before[loc.suffix]
    (loc.partition_dir / "hashes.json").write_text("not json")
    assert await disk.suffix_hashes("sda", OBJ.partition) == after


async def test_old_tombstones_are_reclaimed(tmp_path: Path) -> None:
    disk = make_manager(tmp_path, MetadataStore.XATTR, reclaim_age=60.0)
    await disk.delete(OBJ, Timestamp.from_seconds(time.time() - 120))
    assert await disk.suffix_hashes("sda", OBJ.partition) == {}
    assert not disk.locate(OBJ).hash_dir.exists()

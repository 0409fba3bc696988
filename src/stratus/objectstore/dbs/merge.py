"""How replicas of one database converge: the sync protocol, both ends of it.

A pass pushes one replica (``src``) into another (``dst``) through a ``Peer``:

1. ``sync``: send src's put/delete timestamps and metadata (dst merges them, newest wins)
   and get back dst's info and its *sync point* for src: the highest src rowid whose
   rows dst already has. A missing dst is first created (``create``) from src's identity.
2. Equal row hashes (``DbInfo.hash``, a rolling XOR kept by triggers) mean equal rows:
   done. Otherwise ``merge_items`` sends src's rows after the sync point in rowid order,
   in batches, each moving the sync point on; an interrupted pass resumes where it broke.

Every merge rule is order-free (``rows.py``), and a row that changes gets a new rowid,
so passes in both directions, in any order and repeated, leave identical databases.
The server end (``handle``) parses the JSON ops strictly; a bad op is a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratus.common.errors import InvalidInput
from stratus.objectstore.dbs.broker import Broker, DbInfo
from stratus.objectstore.dbs.dbfile import DbIdentity, DbKind
from stratus.objectstore.dbs.errors import DbAlreadyExists, DbNotFound
from stratus.objectstore.dbs.registry import AsyncDb
from stratus.objectstore.dbs.rows import ContainerRow, MetaValue, ObjectRow
from stratus.objectstore.storage.timestamp import Timestamp

BATCH = 1000
Name = Annotated[str, Field(min_length=1, max_length=1024)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectItem(_Model):
    name: Name
    created_at: str
    size: int = Field(ge=0)
    content_type: str
    etag: str
    deleted: bool


class ContainerItem(_Model):
    name: Name
    put_timestamp: str
    delete_timestamp: str
    stats_timestamp: str
    object_count: int = Field(ge=0)
    bytes_used: int = Field(ge=0)


class InfoOp(_Model):
    op: Literal["info"]


class CreateOp(_Model):
    op: Literal["create"]
    account: Name
    container: Name | None
    created_at: str
    put_timestamp: str
    delete_timestamp: str


class SyncOp(_Model):
    op: Literal["sync"]
    remote_id: Name
    put_timestamp: str
    delete_timestamp: str
    status_changed_at: str
    metadata: dict[str, tuple[str, str]] = {}


class MergeItemsOp(_Model):
    op: Literal["merge_items"]
    remote_id: Name
    point: int
    items: list[ObjectItem] | list[ContainerItem]


class ReplicateRequest(_Model):
    body: InfoOp | CreateOp | SyncOp | MergeItemsOp = Field(discriminator="op")


class InfoReply(_Model):
    """A database's info on the wire (timestamps in their internal form)."""

    db_id: str
    account: str
    container: str | None
    created_at: str
    put_timestamp: str
    delete_timestamp: str
    status_changed_at: str
    hash: str
    max_row: int
    container_count: int
    object_count: int
    bytes_used: int
    metadata: dict[str, tuple[str, str]]
    point: int = -1  # the answering database's sync point for the asking one
    changed: int = 0  # rows changed by a merge_items
    created: bool = False


class Peer(Protocol):
    """The other end of a pass: in-process (``LocalPeer``) or over HTTP (the replicator)."""

    async def send(self, op: InfoOp | CreateOp | SyncOp | MergeItemsOp) -> InfoReply: ...


def parse_op(raw: bytes) -> InfoOp | CreateOp | SyncOp | MergeItemsOp:
    try:
        return ReplicateRequest.model_validate_json(b'{"body":' + raw + b"}").body
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "body"
        raise InvalidInput("objectstore.replicate.invalid", f"{where}: {first['msg']}") from None


def info_reply(info: DbInfo, **extra: int | bool) -> InfoReply:
    meta = {k: (v, ts.internal) for k, (v, ts) in info.metadata.items()}
    return InfoReply(
        db_id=info.db_id,
        account=info.account,
        container=info.container,
        created_at=info.created_at.internal,
        put_timestamp=info.put_timestamp.internal,
        delete_timestamp=info.delete_timestamp.internal,
        status_changed_at=info.status_changed_at.internal,
        hash=info.hash,
        max_row=info.max_row,
        container_count=info.container_count,
        object_count=info.object_count,
        bytes_used=info.bytes_used,
        metadata=meta,
        **extra,
    )


def _rows(items: Sequence[ObjectItem] | Sequence[ContainerItem]) -> list[object]:
    out: list[object] = []
    for item in items:
        if isinstance(item, ObjectItem):
            out.append(
                ObjectRow(
                    item.name,
                    Timestamp.parse(item.created_at),
                    item.size,
                    item.content_type,
                    item.etag,
                    item.deleted,
                )
            )
        else:
            out.append(
                ContainerRow(
                    item.name,
                    Timestamp.parse(item.put_timestamp),
                    Timestamp.parse(item.delete_timestamp),
                    Timestamp.parse(item.stats_timestamp),
                    item.object_count,
                    item.bytes_used,
                )
            )
    return out


def to_item(row: object) -> ObjectItem | ContainerItem:
    if isinstance(row, ObjectRow):
        return ObjectItem(
            name=row.name,
            created_at=row.created_at.internal,
            size=row.size,
            content_type=row.content_type,
            etag=row.etag,
            deleted=row.deleted,
        )
    assert isinstance(row, ContainerRow)
    return ContainerItem(
        name=row.name,
        put_timestamp=row.put_timestamp.internal,
        delete_timestamp=row.delete_timestamp.internal,
        stats_timestamp=row.stats_timestamp.internal,
        object_count=row.object_count,
        bytes_used=row.bytes_used,
    )


async def handle(
    db: AsyncDb[Broker[object]], op: InfoOp | CreateOp | SyncOp | MergeItemsOp
) -> InfoReply:
    """The receiving end of every op (``DbNotFound`` for any op but ``create`` on a
    database this device does not have)."""
    if isinstance(op, CreateOp):
        return await _create(db, op)
    if isinstance(op, SyncOp):
        return await db.call(lambda b: _sync(b, op))
    if isinstance(op, MergeItemsOp):
        rows = _rows(op.items)
        if not all(isinstance(r, ObjectRow) == _is_container(db) for r in rows):
            raise InvalidInput("objectstore.replicate.invalid", "items of the wrong kind")
        changed = await db.call(
            lambda b: b.merge_items(rows, remote_id=op.remote_id, point=op.point)
        )
        return info_reply(await db.call(Broker.info), changed=changed)
    return info_reply(await db.call(Broker.info))


def _is_container(db: AsyncDb[Broker[object]]) -> bool:
    return db.broker.loc.kind is DbKind.CONTAINER


async def _create(db: AsyncDb[Broker[object]], op: CreateOp) -> InfoReply:
    identity = DbIdentity(
        op.account,
        op.container,
        Timestamp.parse(op.created_at),
        Timestamp.parse(op.put_timestamp),
        Timestamp.parse(op.delete_timestamp),
    )
    if (identity.container is None) == _is_container(db):
        raise InvalidInput("objectstore.replicate.invalid", "identity of the wrong kind")
    created = True
    try:
        await db.call(lambda b: b.create(identity))
    except DbAlreadyExists:
        created = False
    return info_reply(await db.call(Broker.info), created=created)


def _sync(broker: Broker[object], op: SyncOp) -> InfoReply:
    metadata: dict[str, MetaValue] = {
        k: (v, Timestamp.parse(ts)) for k, (v, ts) in op.metadata.items()
    }
    broker.update_metadata(metadata)
    broker.merge_timestamps(
        put=Timestamp.parse(op.put_timestamp),
        delete=Timestamp.parse(op.delete_timestamp),
        status_changed=Timestamp.parse(op.status_changed_at),
    )
    return info_reply(broker.info(), point=broker.sync_point(op.remote_id))


class LocalPeer:
    """A peer in this process (tests, and a replicator moving a db between devices)."""

    def __init__(self, db: AsyncDb[Broker[object]]) -> None:
        self.db = db

    async def send(self, op: InfoOp | CreateOp | SyncOp | MergeItemsOp) -> InfoReply:
        return await handle(self.db, op)


async def replicate(src: AsyncDb[Broker[object]], dst: Peer, *, batch: int = BATCH) -> int:
    """One pass from ``src`` into ``dst``; returns how many rows were sent."""
    info = await src.call(Broker.info)
    meta = {k: (v, ts.internal) for k, (v, ts) in info.metadata.items()}
    sync = SyncOp(
        op="sync",
        remote_id=info.db_id,
        put_timestamp=info.put_timestamp.internal,
        delete_timestamp=info.delete_timestamp.internal,
        status_changed_at=info.status_changed_at.internal,
        metadata=meta,
    )
    try:
        reply = await dst.send(sync)
    except DbNotFound:
        await dst.send(_create_op(info))
        reply = await dst.send(sync)
    if reply.hash == info.hash:
        return 0
    return await _push_rows(src, dst, info.db_id, reply.point, batch)


def _create_op(info: DbInfo) -> CreateOp:
    return CreateOp(
        op="create",
        account=info.account,
        container=info.container,
        created_at=info.created_at.internal,
        put_timestamp=info.put_timestamp.internal,
        delete_timestamp=info.delete_timestamp.internal,
    )


async def _push_rows(
    src: AsyncDb[Broker[object]], dst: Peer, src_id: str, point: int, batch: int
) -> int:
    sent = 0
    while True:
        rows = await src.call(lambda b, p=point: b.rows_since(p, batch))  # type: ignore[misc]
        if not rows:
            return sent
        point = rows[-1][0]
        items = [to_item(row) for _, row in rows]
        await dst.send(MergeItemsOp(op="merge_items", remote_id=src_id, point=point, items=items))
        sent += len(rows)

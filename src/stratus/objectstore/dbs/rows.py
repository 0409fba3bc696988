"""The rows replicas exchange, and which version of a row wins.

Each rule is a total order (or a per-field maximum), so merging is commutative,
associative and idempotent: whatever order updates and replication passes arrive in,
every replica ends with the same rows. Ties on the timestamp are broken by the other
fields (a tombstone beats data of the same time, as on the object server) rather than by
arrival order, which would let two replicas keep different rows forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stratus.objectstore.storage.timestamp import Timestamp

SqlValue = str | int | None
EPOCH = Timestamp(0)


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """One object as a container lists it; ``deleted`` rows are tombstones."""

    name: str
    created_at: Timestamp
    size: int = 0
    content_type: str = ""
    etag: str = ""
    deleted: bool = False

    def rank(self) -> tuple[Timestamp, bool, int, str, str]:
        return (self.created_at, self.deleted, self.size, self.content_type, self.etag)

    def to_sql(self) -> tuple[SqlValue, ...]:
        return (
            self.name,
            self.created_at.internal,
            self.size,
            self.content_type,
            self.etag,
            int(self.deleted),
        )

    @classmethod
    def from_sql(cls, row: tuple[SqlValue, ...]) -> ObjectRow:
        name, created_at, size, content_type, etag, deleted = row
        return cls(
            str(name),
            Timestamp.parse(str(created_at)),
            int(size or 0),
            str(content_type),
            str(etag),
            bool(deleted),
        )


@dataclass(frozen=True, slots=True)
class ContainerRow:
    """One container as an account lists it, with the counts its servers last reported."""

    name: str
    put_timestamp: Timestamp
    delete_timestamp: Timestamp = EPOCH
    stats_timestamp: Timestamp = EPOCH
    object_count: int = 0
    bytes_used: int = 0

    @property
    def deleted(self) -> bool:
        return self.delete_timestamp > self.put_timestamp

    def stats_rank(self) -> tuple[Timestamp, int, int]:
        return (self.stats_timestamp, self.object_count, self.bytes_used)

    def to_sql(self) -> tuple[SqlValue, ...]:
        return (
            self.name,
            self.put_timestamp.internal,
            self.delete_timestamp.internal,
            self.stats_timestamp.internal,
            self.object_count,
            self.bytes_used,
            int(self.deleted),
        )

    @classmethod
    def from_sql(cls, row: tuple[SqlValue, ...]) -> ContainerRow:
        name, put, delete, stats, count, used = row[:6]
        return cls(
            str(name),
            Timestamp.parse(str(put)),
            Timestamp.parse(str(delete)),
            Timestamp.parse(str(stats)),
            int(count or 0),
            int(used or 0),
        )


def newer_object(current: ObjectRow | None, incoming: ObjectRow) -> ObjectRow | None:
    """The row to store instead of ``current``, or ``None`` when ``current`` stands."""
    if current is None or incoming.rank() > current.rank():
        return incoming
    return None


def merged_container(current: ContainerRow | None, incoming: ContainerRow) -> ContainerRow | None:
    """Per field: the newest put and delete, and the counts measured last.

    The counts travel with their own timestamp because they change without the put or
    delete timestamps changing (every object written into the container changes them).
    ``None`` when the merge changes nothing.
    """
    if current is None:
        return incoming
    stats = max(current, incoming, key=ContainerRow.stats_rank)
    merged = ContainerRow(
        current.name,
        max(current.put_timestamp, incoming.put_timestamp),
        max(current.delete_timestamp, incoming.delete_timestamp),
        stats.stats_timestamp,
        stats.object_count,
        stats.bytes_used,
    )
    return None if merged == current else merged


MetaValue = tuple[str, Timestamp]


def merged_metadata(
    current: Mapping[str, MetaValue], incoming: Mapping[str, MetaValue]
) -> dict[str, MetaValue]:
    """The keys of ``incoming`` that win over ``current``: newest timestamp, then the
    greater value (an empty value is a removal that keeps its timestamp)."""
    changed: dict[str, MetaValue] = {}
    for key, (value, ts) in incoming.items():
        old = current.get(key)
        if old is None or (ts, value) > (old[1], old[0]):
            changed[key] = (value, ts)
    return changed

"""What can go wrong on a storage device, as errors with a stable code and a kind.

They carry the facts a caller needs to answer (the newer timestamp of a refused write, the
tombstone's timestamp), never an HTTP status: the object server maps them to Swift's
backend statuses (``object_server_faults.py``), a replicator to its own decisions.
"""

from __future__ import annotations

from stratus.common.errors import Conflict, InvalidInput, NotFound, StratusError, Unavailable
from stratus.objectstore.storage.timestamp import Timestamp


class DeviceUnavailable(Unavailable):
    """The device is not a directory under the devices root, or not mounted (Swift's 507)."""

    def __init__(self, device: str, why: str) -> None:
        super().__init__("objectstore.device.unavailable", f"Device {device!r} {why}")
        self.device = device


class InsufficientStorage(Unavailable):
    """The device has no room for the object (ENOSPC while reserving or writing)."""

    def __init__(self, device: str) -> None:
        super().__init__("objectstore.device.full", f"Device {device!r} is full")
        self.device = device


class ObjectNotFound(NotFound):
    """No live object. ``timestamp`` is the tombstone's or the expired data's, if any,
    so the proxy can tell "never written" from "deleted at T"."""

    def __init__(self, name: str, timestamp: Timestamp | None = None, why: str = "") -> None:
        super().__init__("objectstore.object.not_found", f"Object {name} not found{why}")
        self.timestamp = timestamp


class ObjectDeleted(ObjectNotFound):
    def __init__(self, name: str, timestamp: Timestamp) -> None:
        super().__init__(name, timestamp, f" (deleted at {timestamp.internal})")


class ObjectExpired(ObjectNotFound):
    def __init__(self, name: str, timestamp: Timestamp, delete_at: int) -> None:
        super().__init__(name, timestamp, f" (expired at {delete_at})")


class NewerExists(Conflict):
    """A write older than (or as old as) what the device holds: the newest write wins."""

    def __init__(self, name: str, newer: Timestamp) -> None:
        super().__init__(
            "objectstore.object.newer_exists",
            f"Object {name} already has a write at {newer.internal}",
        )
        self.newer = newer


class EtagMismatch(InvalidInput):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            "objectstore.object.etag_mismatch", f"ETag {expected!r} expected, body has {actual!r}"
        )


class TransferCorrupted(InvalidInput):
    """The body's CRC-32 is not the one its sender computed: changed on the way."""

    def __init__(self, sent: int, received: int) -> None:
        super().__init__(
            "objectstore.object.transfer_corrupted",
            f"CRC-32 {sent:08x} sent, {received:08x} received",
        )


class LengthMismatch(InvalidInput):
    """The body ended before (or ran past) the announced Content-Length."""

    def __init__(self, expected: int, received: int) -> None:
        super().__init__(
            "objectstore.object.length_mismatch",
            f"Content-Length {expected} announced, {received} bytes received",
        )
        self.expected = expected
        self.received = received


class CorruptObject(StratusError):
    """Metadata unreadable or disagreeing with the data: the object gets quarantined."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__("objectstore.object.corrupt", f"{path}: {why}")


class DeleteAtMismatch(Conflict):
    """A DELETE with ``X-If-Delete-At`` for an object whose expiry is no longer that time
    (overwritten or re-POSTed since it was queued): the object stays (412)."""

    def __init__(self, name: str, current: int | None, expected: int) -> None:
        super().__init__(
            "objectstore.object.delete_at_mismatch",
            f"Object {name} expires at {current}, not {expected}",
        )

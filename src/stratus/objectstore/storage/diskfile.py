"""The storage layer's async front: what the object server and the replicator call.

Every method does its disk work in a worker thread (``asyncio.to_thread``), so the event
loop only ever waits; data moves in bounded chunks (``writer.py``, ``reader.py``). Writes
of all kinds obey one rule, checked under the hash dir's lock: the newest ``X-Timestamp``
wins, whatever order the writes arrive in on each replica.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stratus.objectstore.storage.config import DiskConfig
from stratus.objectstore.storage.errors import DeviceUnavailable, NewerExists
from stratus.objectstore.storage.expiry_check import delete_at_is
from stratus.objectstore.storage.hashdir import newest_state
from stratus.objectstore.storage.hashes import SuffixHashes, suffix_hashes
from stratus.objectstore.storage.install import check_device, write_marker
from stratus.objectstore.storage.layout import (
    META,
    TOMBSTONE,
    DevicePaths,
    FileName,
    ObjectAddress,
    ObjectLocation,
    PathHasher,
)
from stratus.objectstore.storage.metadata import ObjectMetadata
from stratus.objectstore.storage.quarantine import quarantine_hash_dir
from stratus.objectstore.storage.reader import ObjectReader, open_object
from stratus.objectstore.storage.timestamp import Timestamp
from stratus.objectstore.storage.versions import VersionListing, suffix_versions
from stratus.objectstore.storage.writer import ObjectWriter

_DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    """What a DELETE replaced: the proxy answers 204 if data was live, else 404."""

    existed: bool
    previous: Timestamp | None


class DiskFileManager:
    """All devices under one ``devices_root`` of one storage node."""

    def __init__(
        self, devices_root: Path, *, hasher: PathHasher, config: DiskConfig | None = None
    ) -> None:
        self.devices_root = devices_root
        self.hasher = hasher
        self.config = config or DiskConfig()

    def device(self, name: str) -> DevicePaths:
        """A device by name; a name that could escape the devices root is unavailable."""
        if not _DEVICE_NAME.fullmatch(name):
            raise DeviceUnavailable(name, "is not a valid device name")
        return DevicePaths(self.devices_root / name)

    def locate(self, addr: ObjectAddress) -> ObjectLocation:
        name_hash = self.hasher.hash_name(addr.name)
        return ObjectLocation(self.device(addr.device), addr.partition, name_hash, addr.name)

    async def create(
        self,
        addr: ObjectAddress,
        timestamp: Timestamp,
        *,
        expected_length: int | None = None,
        expected_etag: str | None = None,
        md5: bool = True,
    ) -> ObjectWriter:
        """A writer for a PUT at ``timestamp``: refused up front (``NewerExists``) when a
        newer version is already there, so the body need not be read at all.

        A body announced smaller than ``write_buffer`` is not worth a disk round trip
        before it is read: its writer is deferred (see ``writer.py``) and the same checks
        (device, newer version) happen at commit, in the one worker-thread hop that
        writes it."""
        loc = self.locate(addr)
        small = expected_length is not None and expected_length < self.config.write_buffer
        if not small:
            await asyncio.to_thread(self._precheck, loc, timestamp)
        writer = ObjectWriter(
            loc,
            self.config,
            expected_length=expected_length,
            expected_etag=expected_etag,
            deferred=small,
            md5=md5,
        )
        return await writer.open()

    def _precheck(self, loc: ObjectLocation, timestamp: Timestamp) -> None:
        check_device(loc.device, self.config)
        base = newest_state(loc.hash_dir)
        if base is not None and base.timestamp >= timestamp:
            raise NewerExists(loc.name, base.timestamp)

    async def open(self, addr: ObjectAddress) -> ObjectReader:
        return await asyncio.to_thread(open_object, self.locate(addr), self.config)

    async def delete(
        self, addr: ObjectAddress, timestamp: Timestamp, *, if_delete_at: int | None = None
    ) -> DeleteOutcome:
        """Write a tombstone at ``timestamp`` (even when nothing is there, so a PUT that is
        older but arrives later is refused). With ``if_delete_at`` (the expirer), live data
        must still expire at that time (``DeleteAtMismatch`` otherwise)."""
        loc = self.locate(addr)
        meta = ObjectMetadata(name=loc.name, timestamp=timestamp)
        version = FileName.of(timestamp, TOMBSTONE)
        check = None if if_delete_at is None else delete_at_is(if_delete_at)
        before = await asyncio.to_thread(write_marker, loc, version, meta, self.config, check)
        data = before.data
        return DeleteOutcome(data is not None, before.base.timestamp if before.base else None)

    async def post(
        self,
        addr: ObjectAddress,
        timestamp: Timestamp,
        *,
        user_meta: Mapping[str, str],
        stored_headers: Mapping[str, str] | None = None,
        delete_at: int | None = None,
        content_type: str | None = None,
    ) -> None:
        """Replace user metadata, stored headers and X-Delete-At (and maybe the type)."""
        loc = self.locate(addr)
        meta = ObjectMetadata(
            name=loc.name,
            timestamp=timestamp,
            content_type=content_type,
            content_type_timestamp=timestamp if content_type else None,
            user_meta=dict(user_meta),
            delete_at=delete_at,
            headers=dict(stored_headers or {}),
        )
        version = FileName.of(timestamp, META)
        await asyncio.to_thread(write_marker, loc, version, meta, self.config)

    async def install_marker(
        self, addr: ObjectAddress, version: FileName, meta: ObjectMetadata
    ) -> None:
        """A replicated ``.ts`` or ``.meta``, stored with exactly the metadata it had on the
        replica that sent it (replicated ``.data`` goes through ``create`` like a PUT)."""
        loc = self.locate(addr)
        await asyncio.to_thread(write_marker, loc, version, meta, self.config, replicated=True)

    async def versions(
        self, device: str, partition: int, suffixes: Iterable[str]
    ) -> VersionListing:
        """The current versions in ``suffixes``, for a replicator deciding what to send."""
        paths = self.device(device)

        def run() -> VersionListing:
            check_device(paths, self.config)
            return suffix_versions(paths.partition(partition), suffixes)

        return await asyncio.to_thread(run)

    async def quarantine(self, addr: ObjectAddress, why: str) -> Path | None:
        loc = self.locate(addr)
        return await asyncio.to_thread(quarantine_hash_dir, loc.device, loc.hash_dir, why)

    async def suffix_hashes(
        self,
        device: str,
        partition: int,
        recalculate: Iterable[str] = (),
        *,
        listdir: bool = False,
    ) -> SuffixHashes:
        """The partition's suffix hashes for the replicator (see ``hashes.py``)."""
        paths = self.device(device)
        reclaim_before = self.reclaim_before()

        def run() -> SuffixHashes:
            check_device(paths, self.config)
            return suffix_hashes(
                paths.partition(partition),
                list(recalculate),
                listdir=listdir,
                reclaim_before=reclaim_before,
            )

        return await asyncio.to_thread(run)

    def reclaim_before(self) -> Timestamp:
        """Tombstones older than this are forgotten (every replica had time to learn)."""
        return Timestamp.from_seconds(max(0.0, Timestamp.now().seconds - self.config.reclaim_age))

"""Making a version visible: the one step every PUT, POST and DELETE ends with.

A version is born as a complete temp file in ``<device>/tmp`` (data fsync'd, metadata
attached); under the hash dir's lock it is checked against what is there, renamed into
place, the directory fsync'd, superseded versions removed, and the suffix invalidated for
the replicator. Before the rename nothing is visible; after it, everything is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from stratus.objectstore.storage.config import DiskConfig, MetadataStore
from stratus.objectstore.storage.errors import (
    DeviceUnavailable,
    InsufficientStorage,
    NewerExists,
    ObjectDeleted,
    ObjectNotFound,
)
from stratus.objectstore.storage.hashdir import (
    cleanup,
    flocked,
    fsync_dir,
    list_versions,
    make_dirs,
)
from stratus.objectstore.storage.hashes import invalidate
from stratus.objectstore.storage.layout import META, DevicePaths, FileName, Listing, ObjectLocation
from stratus.objectstore.storage.metadata import ObjectMetadata, try_set_xattr, write_sidecar

_ATTEMPTS = 3  # a concurrent cleanup may remove an emptied hash dir under us
# An extra condition a write must meet, checked under the hash dir's lock (it raises).
Precondition = Callable[[ObjectLocation, Listing], None]


def check_device(device: DevicePaths, config: DiskConfig) -> None:
    """Swift's 507: the device directory is missing, or not mounted when that is required."""
    if not device.root.is_dir():
        raise DeviceUnavailable(device.root.name, "does not exist")
    if config.mount_check and not os.path.ismount(device.root):
        raise DeviceUnavailable(device.root.name, "is not mounted")


def new_temp(device: DevicePaths, config: DiskConfig) -> tuple[int, Path]:
    check_device(device, config)
    make_dirs(device.tmp, fsync=False)
    try:
        fd, name = tempfile.mkstemp(dir=device.tmp, prefix=".tmp-")
    except OSError as exc:
        raise storage_error(exc, device) from exc
    return fd, Path(name)


def attach_metadata(fd: int, meta: ObjectMetadata, config: DiskConfig) -> bool:
    """Put metadata on the temp file; ``True`` when it needs a sidecar instead."""
    if config.metadata_store is MetadataStore.SIDECAR:
        return True
    if try_set_xattr(fd, meta):
        return False
    if config.metadata_store is MetadataStore.XATTR:
        raise OSError(f"extended attributes refused for {meta.name} (metadata_store=xattr)")
    return True


def refuse_if_superseded(
    loc: ObjectLocation, version: FileName, listing: Listing, *, replicated: bool = False
) -> None:
    """Newest wins: a PUT or DELETE must beat the current data or tombstone; a POST needs
    live data older than itself. A replicated ``.meta`` need only be newer than the base:
    its data may still be on its way, and ``classify`` keeps a ``.meta`` without a base."""
    base = listing.base
    if version.ext == META and not replicated:
        if base is None:
            raise ObjectNotFound(loc.name)
        if listing.tombstone is not None:
            raise ObjectDeleted(loc.name, base.timestamp)
    if base is not None and base.timestamp >= version.timestamp:
        raise NewerExists(loc.name, base.timestamp)


def install(
    loc: ObjectLocation,
    tmp: Path,
    version: FileName,
    meta: ObjectMetadata,
    *,
    sidecar: bool,
    config: DiskConfig,
    precondition: Precondition | None = None,
    replicated: bool = False,
) -> Listing:
    """Rename ``tmp`` into the hash dir as ``version``; return the listing it replaced.
    The temp file is removed whatever happens."""
    try:
        for attempt in range(_ATTEMPTS):
            try:
                return _install_once(
                    loc,
                    tmp,
                    version,
                    meta,
                    sidecar=sidecar,
                    config=config,
                    check=precondition,
                    replicated=replicated,
                )
            except FileNotFoundError:
                if attempt == _ATTEMPTS - 1 or not tmp.exists():
                    raise
        raise AssertionError("unreachable")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _install_once(
    loc: ObjectLocation,
    tmp: Path,
    version: FileName,
    meta: ObjectMetadata,
    *,
    sidecar: bool,
    config: DiskConfig,
    check: Precondition | None,
    replicated: bool,
) -> Listing:
    make_dirs(loc.hash_dir, fsync=config.fsync)
    final = loc.hash_dir / version.name
    with flocked(loc.hash_dir, directory=True):
        _, listing = list_versions(loc.hash_dir)
        refuse_if_superseded(loc, version, listing, replicated=replicated)
        if check is not None:
            check(loc, listing)
        if sidecar:
            write_sidecar(final, loc.device.tmp, meta, config.fsync)
        os.rename(tmp, final)
        if config.fsync:
            fsync_dir(loc.hash_dir)
        cleanup(loc.hash_dir)
    invalidate(loc.partition_dir, loc.suffix)
    return listing


def write_marker(
    loc: ObjectLocation,
    version: FileName,
    meta: ObjectMetadata,
    config: DiskConfig,
    precondition: Precondition | None = None,
    *,
    replicated: bool = False,
) -> Listing:
    """An empty version file carrying only metadata: a tombstone or a POST's ``.meta``."""
    fd, tmp = new_temp(loc.device, config)
    try:
        sidecar = attach_metadata(fd, meta, config)
        if config.fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink()
        raise
    os.close(fd)
    return install(
        loc,
        tmp,
        version,
        meta,
        sidecar=sidecar,
        config=config,
        precondition=precondition,
        replicated=replicated,
    )


def storage_error(exc: OSError, device: DevicePaths) -> Exception:
    """A full disk is the caller's 507; any other OS error stays what it is."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage(device.root.name)
    return exc

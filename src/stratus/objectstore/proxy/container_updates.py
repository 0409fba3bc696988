"""Keeping container listings in step with object writes.

After an object PUT or DELETE reaches its quorum, every container replica gets the
object's row (``X-Size``, ``X-Etag``, ``X-Content-Type``, ``X-Timestamp``; newest wins
there, so repeats and reordering are harmless). A replica that cannot take it now gets
the update later: it is queued as an *async pending* file, which the updater daemon
replays. The file is versioned JSON named ``<hash>-<timestamp>`` under
``<device>/async_pending/<suffix>/`` (Swift's layout), written to ``<device>/tmp``,
fsynced and renamed, so the updater never sees half a file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.request import ObjectName
from stratus.objectstore.storage.timestamp import Timestamp

log = logging.getLogger(__name__)

PENDING_VERSION = 1


async def update_containers(
    cluster: Cluster, name: ObjectName, op: str, headers: Mapping[str, str]
) -> None:
    """Send the row to every container primary (batched with other writes' rows by
    ``container_rows.py``); queue it if any of them missed it."""
    nodes = cluster.container_nodes(name.account, name.container)
    timeout = cluster.config.container_update_timeout
    calls = [
        asyncio.wait_for(
            cluster.container_rows.send(d, nodes.partition, name, op, headers),
            timeout,
        )
        for d in nodes.primaries()
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    missed = [r for r in results if r is not True]
    if missed:
        await write_pending(cluster, name, op, headers)


async def write_pending(
    cluster: Cluster, name: ObjectName, op: str, headers: Mapping[str, str]
) -> Path | None:
    device = cluster.config.pending_device
    if device is None:
        log.warning("container update for %s lost: no pending device configured", name)
        return None
    record = {
        "version": PENDING_VERSION,
        "op": op,
        "account": name.account,
        "container": name.container,
        "obj": name.obj,
        "headers": dict(headers),
    }
    name_hash = cluster.hasher().hash_name(str(name))
    timestamp = Timestamp.parse(headers["X-Timestamp"])
    target = device / "async_pending" / name_hash[-3:] / f"{name_hash}-{timestamp.internal}"
    await asyncio.to_thread(_atomic_write, device / "tmp", target, json.dumps(record).encode())
    log.info("queued container update for %s in %s", name, target)
    return target


def _atomic_write(tmp_dir: Path, target: Path, data: bytes) -> None:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=".pending-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

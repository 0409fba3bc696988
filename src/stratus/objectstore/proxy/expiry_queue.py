"""Queueing objects for the expirer when a write sets ``X-Delete-At``.

The entry (``expiring.py``) goes to the queue container's replicas exactly like a listing
update, with the write's timestamp, and is queued as an async pending when a replica
misses it, so an acknowledged expiry is not forgotten. Entries are never withdrawn here:
an overwrite, a POST that moves or clears the expiry, or a DELETE would each cost a read
of the old version to find its entry. A stale entry is harmless instead: the expirer
deletes with ``X-If-Delete-At``, which the current version refuses (412) or has nothing
to delete (404), and the expirer then just drops the entry.
"""

from __future__ import annotations

from collections.abc import Mapping

from stratus.objectstore.expiring import QUEUE_ACCOUNT, QueueEntry
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.container_updates import update_containers
from stratus.objectstore.proxy.request import ObjectName

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


async def queue_expiry(cluster: Cluster, name: ObjectName, headers: Mapping[str, str]) -> None:
    """Record ``name`` in the expirer's queue if the write's headers carry an expiry."""
    delete_at = headers.get("X-Delete-At")
    if not delete_at:
        return
    entry = QueueEntry(int(delete_at), name.account, name.container, name.obj)
    row = {
        "X-Timestamp": headers["X-Timestamp"],
        "X-Size": "0",
        "X-Etag": EMPTY_MD5,
        "X-Content-Type": "text/plain",
    }
    queued = ObjectName(QUEUE_ACCOUNT, entry.container_name, entry.name)
    await update_containers(cluster, queued, "PUT", row)

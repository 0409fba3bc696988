"""The expirer's guard: delete an object only if it still expires when it was queued.

The expirer deletes with ``X-If-Delete-At: <t>``; between queueing and expiry a client
may have overwritten the object without an expiry, or moved its expiry, and that version
must survive. The check runs under the hash dir's lock (``install.Precondition``), so a
write that lands in between is seen. With no live data there is nothing to protect: the
tombstone is written anyway, so a stale replica cannot bring the object back.
"""

from __future__ import annotations

from stratus.objectstore.storage.errors import DeleteAtMismatch
from stratus.objectstore.storage.install import Precondition
from stratus.objectstore.storage.layout import Listing, ObjectLocation
from stratus.objectstore.storage.metadata import read_metadata_at


def current_delete_at(loc: ObjectLocation, listing: Listing) -> int | None:
    """The live object's X-Delete-At: the newest ``.meta``'s, else the data's."""
    if listing.data is None:
        return None
    newest = listing.metas[0] if listing.metas else listing.data
    return read_metadata_at(loc.hash_dir / newest.name).delete_at


def delete_at_is(expected: int) -> Precondition:
    def check(loc: ObjectLocation, listing: Listing) -> None:
        if listing.data is None:
            return
        current = current_delete_at(loc, listing)
        if current != expected:
            raise DeleteAtMismatch(loc.name, current, expected)

    return check

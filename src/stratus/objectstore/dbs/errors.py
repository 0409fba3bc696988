"""What can go wrong with a container or account database, as errors with a kind.

They carry the facts a server needs to answer (the timestamps of a deleted database, so
the proxy can tell "never existed" from "deleted at T"); the servers map them to statuses
in ``db_faults.py``.
"""

from __future__ import annotations

from stratus.common.errors import Conflict, InvalidInput, NotFound, StratusError
from stratus.objectstore.storage.timestamp import Timestamp


class DbNotFound(NotFound):
    """No such database, or it is deleted (then ``put``/``delete`` say when)."""

    def __init__(
        self, name: str, put: Timestamp | None = None, delete: Timestamp | None = None
    ) -> None:
        why = " (deleted)" if delete is not None and put is not None and delete > put else ""
        super().__init__("objectstore.db.not_found", f"{name} not found{why}")
        self.put = put
        self.delete = delete


class DbAlreadyExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__("objectstore.db.exists", f"{name} already exists")


class ContainerNotEmpty(Conflict):
    """Swift refuses to delete a container that still lists objects (409)."""

    def __init__(self, name: str, count: int) -> None:
        super().__init__(
            "objectstore.container.not_empty", f"Container {name} holds {count} objects"
        )


class DeletedLater(Conflict):
    """A PUT older than the database's delete: the delete stands (409)."""

    def __init__(self, name: str, delete: Timestamp) -> None:
        super().__init__("objectstore.db.deleted_later", f"{name} was deleted at {delete.internal}")
        self.delete = delete


class PreconditionFailed(InvalidInput):
    """A listing parameter out of bounds (Swift answers these with 412)."""

    def __init__(self, message: str) -> None:
        super().__init__("objectstore.listing.precondition", message)


class CorruptDatabase(StratusError):
    """A database file that SQLite cannot read, or of a newer format than this code."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__("objectstore.db.corrupt", f"{path}: {why}")


class PutLater(Conflict):
    """A DELETE older than the database's last PUT: the PUT stands (409)."""

    def __init__(self, name: str, put: Timestamp) -> None:
        super().__init__("objectstore.db.put_later", f"{name} was put again at {put.internal}")
        self.put = put

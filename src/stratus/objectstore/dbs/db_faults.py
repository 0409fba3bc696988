"""Swift's backend statuses for database errors, in plain text (what the proxy expects).

A 404 for a deleted database carries its put and delete timestamps, so the proxy can
tell "deleted at T" from "never created"; a missing device is a 507; listing bounds out
of range are 412 as in Swift.
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from stratus.common.asgi.faults import STATUS_BY_KIND
from stratus.common.errors import StratusError
from stratus.objectstore.dbs.errors import DbNotFound, DeletedLater, PreconditionFailed
from stratus.objectstore.storage.errors import DeviceUnavailable, InsufficientStorage
from stratus.objectstore.storage.server_faults import plain_text_fault

log = logging.getLogger(__name__)


def db_fault(exc: StratusError) -> Response:
    status = _status(exc)
    if status == 500:  # a corrupt database: the replicator will have to replace it
        log.error("%s (%s)", exc.message, exc.code)
    response = plain_text_fault(status, exc.code, exc.message)
    if isinstance(exc, DbNotFound):
        if exc.put is not None:
            response.headers["X-Backend-Put-Timestamp"] = exc.put.internal
            response.headers["X-Backend-Timestamp"] = exc.put.internal
        if exc.delete is not None:
            response.headers["X-Backend-Delete-Timestamp"] = exc.delete.internal
    elif isinstance(exc, DeletedLater):
        response.headers["X-Backend-Delete-Timestamp"] = exc.delete.internal
    return response


def _status(exc: StratusError) -> int:
    if isinstance(exc, DeviceUnavailable | InsufficientStorage):
        return 507
    if isinstance(exc, PreconditionFailed):
        return 412
    return STATUS_BY_KIND[exc.kind]

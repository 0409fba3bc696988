"""Swift's backend statuses for storage errors, in plain text (what the proxy expects).

The storage layer says *what* happened; only this module knows that a refused older write
is a 409 carrying the newer ``X-Backend-Timestamp``, a missing device a 507, a body that
does not match its ETag a 422, and a client gone mid-upload Swift's 499.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse, Response

from stratus.common.asgi.faults import STATUS_BY_KIND, title
from stratus.common.errors import StratusError
from stratus.objectstore.storage.errors import (
    DeleteAtMismatch,
    DeviceUnavailable,
    EtagMismatch,
    InsufficientStorage,
    LengthMismatch,
    NewerExists,
    ObjectNotFound,
    TransferCorrupted,
)
from stratus.objectstore.storage.server_request import LengthRequired

CLIENT_CLOSED = 499  # Swift's status for a client that went away mid-request
BACKEND_TIMESTAMP = "X-Backend-Timestamp"


class ClientGone(StratusError):
    """The client disconnected, or sent nothing for ``client_timeout`` seconds."""

    def __init__(self, timed_out: bool) -> None:
        why = "timed out sending the body" if timed_out else "disconnected"
        super().__init__("objectstore.request.client_gone", f"Client {why}")
        self.timed_out = timed_out


def plain_text_fault(status: int, code: str, message: str) -> Response:
    """The fault renderer for ``EdgeMiddleware``: ``<message>`` as text/plain."""
    return PlainTextResponse(f"{message or title(status)}\n", status_code=status)


def storage_fault(exc: StratusError) -> Response:
    status = _status(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, NewerExists):
        headers[BACKEND_TIMESTAMP] = exc.newer.internal
    elif isinstance(exc, ObjectNotFound) and exc.timestamp is not None:
        headers[BACKEND_TIMESTAMP] = exc.timestamp.internal
    response = plain_text_fault(status, exc.code, exc.message)
    response.headers.update(headers)
    return response


def _status(exc: StratusError) -> int:
    if isinstance(exc, DeviceUnavailable | InsufficientStorage):
        return 507
    if isinstance(exc, EtagMismatch | TransferCorrupted):
        return 422
    if isinstance(exc, DeleteAtMismatch):
        return 412
    if isinstance(exc, LengthRequired):
        return 411
    if isinstance(exc, LengthMismatch):
        return CLIENT_CLOSED if exc.received < exc.expected else 400
    if isinstance(exc, ClientGone):
        return 408 if exc.timed_out else CLIENT_CLOSED
    return STATUS_BY_KIND[exc.kind]

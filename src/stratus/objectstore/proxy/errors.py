"""The proxy's failures as errors with stable codes, and the one place that turns them
into Swift's plain-text statuses.

Handlers raise what went wrong (``LengthRequired``, ``QuorumLost``...); ``swift_fault``
alone knows that Swift answers 411, 503 and so on, so the wire format stays at the edge.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse, Response

from stratus.common.asgi.faults import STATUS_BY_KIND, title
from stratus.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    Kind,
    NotFound,
    StratusError,
    Unauthenticated,
)
from stratus.objectstore.storage.server_request import InvalidPath

CLIENT_CLOSED = 499  # Swift's status for a client that went away mid-request


class LengthRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__("objectstore.proxy.length_required", "Length Required")


class PreconditionFailed(InvalidInput):
    def __init__(self, message: str = "Precondition Failed") -> None:
        super().__init__("objectstore.proxy.precondition_failed", message)


class RangeNotSatisfiable(InvalidInput):
    def __init__(self) -> None:
        super().__init__("objectstore.proxy.range", "Requested range not satisfiable")


class EtagMismatch(InvalidInput):
    def __init__(self) -> None:
        super().__init__("objectstore.proxy.etag_mismatch", "Unprocessable Entity")


class TooLarge(StratusError):
    kind = Kind.TOO_LARGE

    def __init__(self, message: str = "Your request is too large.") -> None:
        super().__init__("objectstore.proxy.too_large", message)


class ClientDisconnected(StratusError):
    """The client went away (or stalled) while sending a body: nothing was stored."""

    def __init__(self, timed_out: bool) -> None:
        why = "timed out sending the body" if timed_out else "disconnected"
        super().__init__("objectstore.proxy.client_gone", f"Client {why}")
        self.timed_out = timed_out


class QuorumLost(StratusError):
    """Fewer replicas than a quorum answered: Swift's 503."""

    kind = Kind.UNAVAILABLE

    def __init__(self, what: str = "Service Unavailable") -> None:
        super().__init__("objectstore.proxy.quorum", what)


def bad_request(message: str) -> InvalidInput:
    return InvalidInput("objectstore.proxy.invalid", message)


def not_found(message: str = "Not Found") -> NotFound:
    return NotFound("objectstore.proxy.not_found", message)


def conflict(message: str) -> Conflict:
    return Conflict("objectstore.proxy.conflict", message)


def forbidden() -> Forbidden:
    return Forbidden("objectstore.proxy.forbidden", "Forbidden")


def unauthorized() -> Unauthenticated:
    return Unauthenticated("objectstore.proxy.unauthorized", "Unauthorized")


_SPECIFIC: tuple[tuple[type[StratusError], int], ...] = (
    (LengthRequired, 411),
    (PreconditionFailed, 412),
    (InvalidPath, 412),
    (RangeNotSatisfiable, 416),
    (EtagMismatch, 422),
)


def status_of(exc: StratusError) -> int:
    for kind, status in _SPECIFIC:
        if isinstance(exc, kind):
            return status
    if isinstance(exc, ClientDisconnected):
        return 408 if exc.timed_out else CLIENT_CLOSED
    return STATUS_BY_KIND[exc.kind]


def plain_fault(status: int, code: str = "", message: str = "") -> Response:
    """Swift's error body: one line of plain text (the reason phrase by default)."""
    return PlainTextResponse(f"{message or title(status)}\n", status_code=status)


def swift_fault(exc: StratusError) -> Response:
    if isinstance(exc, InvalidPath):  # whatever the parser said, clients match this text
        return plain_fault(412, exc.code, "Invalid UTF8 or contains NULL")
    return plain_fault(status_of(exc), exc.code, exc.message)

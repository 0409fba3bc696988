"""From an error kind to an HTTP status; each API renders the body in its own format."""

from __future__ import annotations

from http import HTTPStatus
from typing import Protocol

from starlette.responses import Response

from stratus.common.errors import Kind

STATUS_BY_KIND: dict[Kind, int] = {
    Kind.INVALID: 400,
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.TOO_LARGE: 413,
    Kind.QUOTA: 403,
    Kind.UNAVAILABLE: 503,
    Kind.UNSUPPORTED_MEDIA: 415,
    Kind.UNSATISFIABLE: 416,
    Kind.INTERNAL: 500,
}


def title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class FaultRenderer(Protocol):
    """Turns a failure into a response in one API's wire format."""

    def __call__(self, status: int, code: str, message: str) -> Response: ...

"""Keystone's error format: ``{"error": {"code", "title", "message"}}``."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.asgi.faults import title
from stratus.common.asgi.routing import json_response


def keystone_fault(status: int, code: str, message: str, *, auth_uri: str = "/v3") -> Response:
    """A 401 names where to authenticate, as Keystone's ``WWW-Authenticate`` does."""
    body = {"error": {"code": status, "title": title(status), "message": message}}
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = f'Keystone uri="{auth_uri}"'
    return json_response(body, status=status, headers=headers)

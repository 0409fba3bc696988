"""Glance's error format: the JSON body webob gives (``code``, ``title``, ``message``)."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.asgi.faults import title
from stratus.common.asgi.routing import json_response


def glance_fault(status: int, code: str, message: str) -> Response:
    body = {"code": f"{status} {title(status)}", "title": title(status), "message": message}
    headers = {"WWW-Authenticate": "Keystone uri=''"} if status == 401 else {}
    return json_response(body, status=status, headers=headers)

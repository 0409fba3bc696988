"""Nova's error format: ``{"itemNotFound": {"code": 404, "message": "..."}}``.

The outer key names the status as Nova's fault wrapper does; any status it has no name
for is a ``computeFault``. Quota refusals come as 403 ``forbidden`` (errors of kind
``quota``), request bodies over the size limit as 413 ``overLimit``.
"""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.asgi.routing import json_response

FAULT_NAMES: dict[int, str] = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def nova_fault(status: int, code: str, message: str) -> Response:
    name = FAULT_NAMES.get(status, "computeFault")
    headers = {"WWW-Authenticate": "Keystone uri=''"} if status == 401 else {}
    return json_response({name: {"code": status, "message": message}}, status, headers)

"""Neutron's error format: ``{"NeutronError": {"type": ..., "message": ..., "detail": ""}}``.

``type`` is Neutron's exception class name. Errors raised here carry it as the last part
of their code (``network.NetworkNotFound``); errors from the shared layers (a malformed
body, a refused policy, an unknown path) get the name Neutron gives that status.
"""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.asgi.routing import json_response

_BY_STATUS = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    503: "ServiceUnavailable",
}
_BY_CODE = {"policy.forbidden": "PolicyNotAuthorized"}


def error_type(status: int, code: str) -> str:
    last = code.rpartition(".")[2]
    if last[:1].isupper():
        return last
    return _BY_CODE.get(code) or _BY_STATUS.get(status, "HTTPInternalServerError")


def neutron_fault(status: int, code: str, message: str) -> Response:
    body = {"NeutronError": {"type": error_type(status, code), "message": message, "detail": ""}}
    headers = {"WWW-Authenticate": "Keystone uri=''"} if status == 401 else {}
    return json_response(body, status=status, headers=headers)

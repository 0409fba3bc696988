"""The outermost ASGI middleware of every API.

It gives each request an id (returned as ``x-openstack-request-id``), binds the request
context for logging, and turns every exception into a response in the API's own format:
expected errors by their kind, anything else as a 500 carrying the request id, logged once.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.common import context
from stratus.common.asgi.faults import STATUS_BY_KIND, FaultRenderer, title
from stratus.common.errors import StratusError

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = b"x-openstack-request-id"


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, render: FaultRenderer) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = context.RequestContext()
        scope.setdefault("state", {})["ctx"] = ctx
        scope["app"] = self  # makes Starlette's router raise HTTPException for 404/405
        rid = ctx.request_id.encode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, rid))
                message = {**message, "headers": headers}
            await send(message)

        token = context.bind(ctx)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # the edge: every failure becomes a response
            if started:
                log.exception("failure after the response started")
                return
            response = self._fault(exc, scope)
            await response(scope, receive, send_with_id)
        finally:
            context.unbind(token)

    def _fault(self, exc: Exception, scope: Scope) -> Any:
        if isinstance(exc, StratusError):
            status = STATUS_BY_KIND[exc.kind]
            if status >= 500:
                log.error("%s %s: %s (%s)", scope["method"], scope["path"], exc.message, exc.code)
            return self.render(status, exc.code, exc.message)
        if isinstance(exc, HTTPException):
            response = self.render(exc.status_code, "http.error", _http_message(exc, scope))
            if exc.headers:
                response.headers.update(exc.headers)
            return response
        log.exception("unexpected error in %s %s", scope["method"], scope["path"])
        return self.render(
            500,
            "internal",
            "An unexpected error prevented the server from fulfilling your request.",
        )


def _http_message(exc: HTTPException, scope: Scope) -> str:
    if exc.status_code == 404:
        return f"The resource could not be found: {scope['path']}"
    if exc.status_code == 405:
        return f"The method {scope['method']} is not allowed for {scope['path']}"
    return str(exc.detail or title(exc.status_code))

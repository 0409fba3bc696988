"""The boundary between clients and the proxy's internals.

Sysmeta (``X-{Account,Container,Object}-Sysmeta-*``) and backend headers are how
middleware record facts (a manifest's size, a versions container) that clients must
neither forge nor read; hidden accounts (names starting with ``.``, such as the
expirer's queue) are for daemons only. So for every request from outside: those
request headers are removed, those response headers are removed, and a hidden account
is a 403 (Swift gives the same). Subrequests made by middleware (``swift_scope.INTERNAL``)
pass untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import forbidden
from stratus.objectstore.storage.server_request import request_path

_PRIVATE_PREFIXES = (
    b"x-object-sysmeta-",
    b"x-container-sysmeta-",
    b"x-account-sysmeta-",
    b"x-backend-",
)


def is_private(name: bytes) -> bool:
    return name.lower().startswith(_PRIVATE_PREFIXES)


def hidden_account(path: str) -> bool:
    """``/v1/.something[/...]``: an account only daemons and middleware may use."""
    return path.startswith("/v1/.")


class Gatekeeper:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or swift_scope.is_internal(scope):
            await self.app(scope, receive, send)
            return
        if hidden_account(request_path(scope)):
            raise forbidden()
        scope = {**scope, "headers": [h for h in scope["headers"] if not is_private(h[0])]}

        async def send_public(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if not is_private(h[0])]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_public)

"""Who is calling: the token (or other credentials) in the headers become a ``Caller``.

Authentication only: whether the caller may do what it asks is decided later, by the
proxy once it knows the account and the container's ACLs, because anonymous requests can
be allowed too (public containers). A request that already has a caller (a subrequest,
or one that TempURL or FormPOST vouched for) is left alone.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.objectstore.asgi_io import utf8_headers
from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.auth import ANONYMOUS
from stratus.objectstore.proxy.cluster import Cluster


class Authenticate:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and swift_scope.caller_of(scope) is None:
            caller = await self.cluster.auth.authenticate(utf8_headers(scope))
            scope = {**scope, swift_scope.CALLER: caller or ANONYMOUS}
        await self.app(scope, receive, send)

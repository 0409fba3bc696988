"""The proxy's ASGI app: path parsing, auth, dispatch by level and verb, Swift errors.

``/v1/{account}[/{container}[/{object}]]`` goes to ``accounts``, ``containers`` or
``objects`` (``copies`` for COPY and ``X-Copy-From``); ``/info`` and ``/healthcheck``
need no auth; ``/auth/v1.0`` is Swift's v1 auth when a ``V1Auth`` is given. Every
expected failure is raised as an error with a code and rendered in one place
(``errors.swift_fault``) as Swift's plain-text status; anything unexpected is a 500 at
the shared ``EdgeMiddleware``, which also gives each request its id, returned as
``X-Trans-Id`` too, the header Swift clients log. Optional behaviours are middleware
around this core (``pipeline.py``); authentication is one of them, and the core only
authorises the caller it finds in the scope.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.errors import StratusError
from stratus.objectstore.asgi_io import query_params, utf8_headers
from stratus.objectstore.proxy import accounts, acl, containers, copies, objects, swift_scope
from stratus.objectstore.proxy.auth import ANONYMOUS, ProxyAuth, V1Auth
from stratus.objectstore.proxy.cluster import Cluster, ProxyConfig
from stratus.objectstore.proxy.errors import bad_request, plain_fault, swift_fault, unauthorized
from stratus.objectstore.proxy.pipeline import assemble
from stratus.objectstore.proxy.placement import Rings
from stratus.objectstore.proxy.request import SwiftRequest, split_path
from stratus.objectstore.proxy.responses import RawResponse, StreamedResponse
from stratus.objectstore.storage.server_request import request_path

log = logging.getLogger(__name__)

Handler = Callable[[Cluster, SwiftRequest], Awaitable[ASGIApp]]
METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"})
V1_AUTH_PATHS = frozenset({"/auth/v1.0", "/v1.0", "/auth/v1"})


class ProxyApp:
    def __init__(self, cluster: Cluster, v1_auth: V1Auth | None = None) -> None:
        self.cluster = cluster
        self.v1_auth = v1_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(self.cluster, receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            response = await self.route(scope, receive)
        except StratusError as exc:
            response = swift_fault(exc)
        await response(scope, receive, send)

    async def route(self, scope: Scope, receive: Receive) -> ASGIApp:
        path = request_path(scope)
        method = scope["method"]
        if path == "/info" and method in ("GET", "HEAD"):
            body = json.dumps(self.info()).encode()
            return RawResponse(200, [(b"content-type", b"application/json; charset=utf-8")], body)
        if path == "/healthcheck" and method in ("GET", "HEAD"):
            return RawResponse(200, [(b"content-type", b"text/plain")], b"OK")
        if path in V1_AUTH_PATHS and method in ("GET", "HEAD") and self.v1_auth is not None:
            return await _v1_auth(self.v1_auth, utf8_headers(scope))
        if path != "/v1" and not path.startswith("/v1/"):
            return plain_fault(404)
        if method not in METHODS:
            return plain_fault(405)
        req = await self.request(scope, receive, path)
        try:
            response = await _handler(req)(self.cluster, req)
        finally:  # even a failed write may have reached some replicas
            if req.method in ("PUT", "POST", "DELETE") and req.obj is None:
                self.cluster.info_cache.forget(req.account, req.container)
        if not req.owner and isinstance(response, RawResponse | StreamedResponse):
            response.headers = acl.hide_owner_headers(response.headers)
        return response

    def info(self) -> dict[str, object]:
        return {**self.cluster.constraints.info(), **self.cluster.capabilities}

    async def request(self, scope: Scope, receive: Receive, path: str) -> SwiftRequest:
        """Parse and authorise (``acl.py``); names are checked before any backend call."""
        account, container, obj = split_path(path)
        headers = utf8_headers(scope)
        if not swift_scope.is_internal(scope):  # middleware may copy more headers than this
            self.cluster.constraints.check_headers(headers, count=len(scope["headers"]))
        caller = swift_scope.caller_of(scope)
        if caller is None:  # run without the pipeline's ``Authenticate``
            caller = await self.cluster.auth.authenticate(headers) or ANONYMOUS
        self.cluster.constraints.check_names(account, container, obj)
        method = scope["method"]
        if method == "COPY" and obj is None:
            raise bad_request("COPY needs an object")
        target = acl.Target(method, account, container, obj, headers)
        owner = await acl.authorize(self.cluster, caller, target)
        if container is not None and obj is None and method in ("PUT", "POST"):
            acl.check_acl_headers(headers)
        query = query_params(scope)
        return SwiftRequest(
            scope, receive, method, account, container, obj, headers, query, caller, owner=owner
        )


def _handler(req: SwiftRequest) -> Handler:
    if req.method == "OPTIONS":
        return _options
    if req.obj is not None:
        if req.method == "COPY":
            return copies.copy
        if req.method == "PUT" and "x-copy-from" in req.headers:
            return copies.put_copy
        return objects.handle
    if req.container is not None:
        return containers.handle
    return accounts.handle


async def _options(cluster: Cluster, req: SwiftRequest) -> ASGIApp:
    allowed = (
        objects.ALLOWED if req.obj else containers.ALLOWED if req.container else accounts.ALLOWED
    )
    return RawResponse(200, [(b"allow", allowed.encode())])


async def _v1_auth(auth: V1Auth, headers: dict[str, str]) -> ASGIApp:
    """Swift's v1 auth: ``X-Auth-User``/``X-Auth-Key`` in, token and storage URL out."""
    user = headers.get("x-auth-user") or headers.get("x-storage-user")
    key = headers.get("x-auth-key") or headers.get("x-storage-pass")
    grant = await auth.issue(user, key) if user and key else None
    if grant is None:
        raise unauthorized()
    token = grant.token.encode()
    return RawResponse(
        200,
        [
            (b"x-storage-url", grant.storage_url.encode()),
            (b"x-auth-token", token),
            (b"x-storage-token", token),
            (b"x-auth-token-expires", str(grant.expires_in).encode()),
            (b"content-type", b"text/plain; charset=utf-8"),
        ],
    )


async def _lifespan(cluster: Cluster, receive: Receive, send: Send) -> None:
    """Close the backend connection pool when the server stops."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await cluster.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


class SwiftEdge:
    """Inside the shared edge: every response carries ``X-Trans-Id`` (the request id
    Swift clients log), and an error a middleware raises becomes Swift's plain-text
    status. Errors of the core are rendered by the core itself, so that subrequests
    always get a response, never an exception."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trans_id = str(getattr(scope.get("state", {}).get("ctx"), "request_id", "")).encode()
        started = False

        async def send_with_trans_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if trans_id:
                    headers = [*message.get("headers", []), (b"x-trans-id", trans_id)]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_trans_id)
        except StratusError as exc:
            if started:
                raise
            await swift_fault(exc)(scope, receive, send_with_trans_id)


def create_proxy(
    rings: Rings,
    auth: ProxyAuth,
    config: ProxyConfig | None = None,
    v1_auth: V1Auth | None = None,
) -> tuple[ASGIApp, Cluster]:
    """The proxy app (wrapped in the shared edge) and its cluster (close it at shutdown
    when the server does not run the ASGI lifespan)."""
    cluster = Cluster(config or ProxyConfig(), rings, auth)
    app = SwiftEdge(assemble(ProxyApp(cluster, v1_auth), cluster))
    return EdgeMiddleware(app, render=plain_fault), cluster

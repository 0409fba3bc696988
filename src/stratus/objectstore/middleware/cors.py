"""CORS: which web pages (origins) may call the object store from a browser.

A container's owner lists the allowed origins in
``X-Container-Meta-Access-Control-Allow-Origin`` (space separated, ``*`` for any),
with ``-Max-Age`` (how long a browser may keep a preflight's answer) and
``-Expose-Headers`` (response headers the page may read, on top of the defaults); the
rules cover the container and its objects. The operator may allow origins for every
container (``cors_allow_origin``).

A preflight (``OPTIONS`` with ``Origin``) is answered here, without authentication, as
the browser sends no credentials with it: 200 with the ``Access-Control-Allow-*``
headers when the origin and the requested method are allowed, else 401. An actual
request with ``Origin`` runs as usual and its response gets
``Access-Control-Allow-Origin`` and ``Access-Control-Expose-Headers``; in strict mode
(the default) only when the origin is allowed, so a page from elsewhere cannot read it.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.objectstore.proxy import accounts, containers, objects, swift_scope
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.info import container_info
from stratus.objectstore.proxy.responses import RawResponse
from stratus.objectstore.proxy.swift_scope import RequestView

META = "x-container-meta-access-control-"
# what a page may always read: CORS's simple response headers and Swift's own
EXPOSED = (
    "cache-control",
    "content-language",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "etag",
    "x-timestamp",
    "x-trans-id",
    "x-openstack-request-id",
)
_USER_META = (b"x-container-meta-", b"x-object-meta-")


class CorsRules:
    """One container's CORS metadata, with the operator's settings added."""

    def __init__(self, meta: dict[str, str], cluster: Cluster) -> None:
        config = cluster.config
        self.origins = set(meta.get("allow-origin", "").split()) | set(config.cors_allow_origin)
        self.any_origin = meta.get("allow-origin", "").strip() == "*"
        self.max_age = meta.get("max-age", "").strip()
        self.exposed = [h.lower() for h in meta.get("expose-headers", "").split()]
        self.exposed += [h.lower() for h in config.cors_expose_headers]

    def allows(self, origin: str) -> bool:
        return "*" in self.origins or origin in self.origins

    def allow_origin(self, origin: str) -> list[tuple[bytes, bytes]]:
        """``*`` when the container allows any origin, else the caller's (and ``Vary``)."""
        if self.any_origin:
            return [(b"access-control-allow-origin", b"*")]
        return [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]


def _allowed_methods(view: RequestView) -> list[str]:
    names = (
        objects.ALLOWED if view.obj else containers.ALLOWED if view.container else accounts.ALLOWED
    )
    return [m.strip() for m in names.split(",")] + ["OPTIONS"]


class Cors:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster
        cluster.capabilities["cors"] = {"strict_cors_mode": cluster.config.strict_cors_mode}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = None if swift_scope.is_internal(scope) else RequestView.of(scope)
        origin = view.headers.get("origin") if view is not None else None
        if view is None or not origin:
            await self.app(scope, receive, send)
            return
        rules = await self.rules(view)
        if view.method == "OPTIONS":
            await preflight(view, rules, origin)(scope, receive, send)
            return
        if self.cluster.config.strict_cors_mode and not rules.allows(origin):
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _exposing(send, rules, origin))

    async def rules(self, view: RequestView) -> CorsRules:
        meta: dict[str, str] = {}
        if view.container is not None:
            info = await container_info(self.cluster, view.account, view.container)
            if info.exists:
                meta = {k[len(META) :]: v for k, v in info.headers.items() if k.startswith(META)}
        return CorsRules(meta, self.cluster)


def preflight(view: RequestView, rules: CorsRules, origin: str) -> RawResponse:
    methods = _allowed_methods(view)
    wanted = view.headers.get("access-control-request-method", "")
    if not rules.allows(origin) or wanted not in methods:
        return RawResponse(401, [])
    headers = rules.allow_origin(origin)
    headers.append((b"access-control-allow-methods", ", ".join(methods).encode()))
    asked = _split(view.headers.get("access-control-request-headers", ""))
    if asked:
        # whatever the page asks to send may be sent: the verbs and ACLs still decide
        headers.append((b"access-control-allow-headers", ", ".join(asked).encode()))
        headers.append((b"vary", b"Access-Control-Request-Headers"))
    if rules.max_age.isdigit():
        headers.append((b"access-control-max-age", rules.max_age.encode()))
    return RawResponse(200, headers)


def _split(text: str) -> list[str]:
    return sorted({h.strip().lower() for h in text.split(",") if h.strip()})


def _exposed(headers: Collection[tuple[bytes, bytes]], rules: CorsRules) -> bytes:
    names = set(EXPOSED) | set(rules.exposed)
    names |= {k.decode("latin-1").lower() for k, _ in headers if k.lower().startswith(_USER_META)}
    return ", ".join(sorted(names)).encode()


def _exposing(send: Send, rules: CorsRules, origin: str) -> Send:
    async def send_exposed(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            if b"access-control-expose-headers" not in present:
                headers.append((b"access-control-expose-headers", _exposed(headers, rules)))
            if b"access-control-allow-origin" not in present:
                headers += rules.allow_origin(origin)
            message = {**message, "headers": headers}
        await send(message)

    return send_exposed

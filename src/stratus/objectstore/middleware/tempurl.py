"""TempURL: a link that opens one object (or every object under a prefix) for one verb
until a given time, without a token.

The link carries ``temp_url_expires`` (unix seconds or ISO 8601 UTC) and
``temp_url_sig``, an HMAC of ``<method>\\n<expires>\\n<path>`` (``prefix:<path>`` with
``temp_url_prefix``; ``ip=<range>\\n`` first with ``temp_url_ip_range``) made with a
TempURL key (``signatures.py``). A valid link makes the request the account owner's, so
it runs through the rest of the pipeline like the owner's own; an invalid or expired one
is a 401. HEAD is allowed by a GET, PUT or POST signature. Such a request may not bring
headers that would reach beyond the object (a manifest, a copy source), and a download
is served as an attachment unless ``inline`` is given (``filename`` names it).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.objectstore.middleware.signatures import (
    ALLOWED_DIGESTS,
    DEPRECATED_DIGESTS,
    Signature,
    owner_of,
    signing_keys,
)
from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import bad_request, unauthorized
from stratus.objectstore.proxy.swift_scope import RequestView

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
# what a HEAD may be signed as: looking at an object is part of each of these
_HEAD_SIGNED_AS = ("HEAD", "GET", "PUT", "POST")
INCOMING_REMOVE = ("x-timestamp", "x-open-expired")
_REFUSED = ("x-object-manifest", "x-copy-from", "x-copy-from-account", "x-symlink-target")
OUTGOING_REMOVE = "x-object-meta-"
OUTGOING_ALLOW = "x-object-meta-public-"
ISO8601 = "%Y-%m-%dT%H:%M:%SZ"
_DROPPED = frozenset(name.encode() for name in (*INCOMING_REMOVE, "x-auth-token"))


def parse_expires(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    try:
        when = dt.datetime.strptime(text, ISO8601).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return int(when.timestamp())


@dataclass(frozen=True, slots=True)
class TempUrlQuery:
    signature: Signature
    expires: int
    prefix: str | None
    ip_range: str | None

    @classmethod
    def of(cls, query: dict[str, str]) -> TempUrlQuery:
        signature = Signature.parse(query.get("temp_url_sig", ""))
        expires = parse_expires(query.get("temp_url_expires", ""))
        if signature is None or expires is None:
            raise unauthorized()
        return cls(signature, expires, query.get("temp_url_prefix"), query.get("temp_url_ip_range"))

    def messages(self, view: RequestView) -> list[str]:
        """What the link's owner would have signed, for each method that allows this one."""
        path = view.path
        if self.prefix is not None:
            path = f"prefix:/v1/{view.account}/{view.container}/{self.prefix}"
        methods = _HEAD_SIGNED_AS if view.method == "HEAD" else (view.method,)
        ip = f"ip={self.ip_range}\n" if self.ip_range is not None else ""
        return [f"{ip}{method}\n{self.expires}\n{path}" for method in methods]


def _in_range(scope: Scope, ip_range: str) -> bool:
    client = scope.get("client")
    try:
        return client is not None and ipaddress.ip_address(client[0]) in ipaddress.ip_network(
            ip_range, strict=False
        )
    except ValueError:
        return False


class TempURL:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster
        cluster.capabilities["tempurl"] = {
            "methods": list(METHODS),
            "incoming_remove_headers": list(INCOMING_REMOVE),
            "incoming_allow_headers": [],
            "outgoing_remove_headers": [f"{OUTGOING_REMOVE}*"],
            "outgoing_allow_headers": [f"{OUTGOING_ALLOW}*"],
            "allowed_digests": list(ALLOWED_DIGESTS),
            "deprecated_digests": list(DEPRECATED_DIGESTS),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = None if swift_scope.is_internal(scope) else RequestView.of(scope)
        if view is None or not ({"temp_url_sig", "temp_url_expires"} & view.query.keys()):
            await self.app(scope, receive, send)
            return
        await self.vouch(scope, view)
        scope = {**scope, swift_scope.CALLER: owner_of(view.account)}
        scope["headers"] = [h for h in scope["headers"] if h[0].lower() not in _DROPPED]
        if view.method in ("GET", "HEAD"):
            send = _as_download(send, view)
        await self.app(scope, receive, send)

    async def vouch(self, scope: Scope, view: RequestView) -> None:
        """Raise unless the link is valid for this request, now."""
        link = TempUrlQuery.of(view.query)
        if view.method not in METHODS or view.obj is None or owner_of(view.account) is None:
            raise unauthorized()
        if link.expires < time.time():
            raise unauthorized()
        if link.prefix is not None and not view.obj.startswith(link.prefix):
            raise unauthorized()
        if link.ip_range is not None and not _in_range(scope, link.ip_range):
            raise unauthorized()
        keys = await signing_keys(self.cluster, view.account, view.container)
        if not any(link.signature.made_by(keys, m) for m in link.messages(view)):
            raise unauthorized()
        for name in _REFUSED:
            if name in view.headers:
                raise bad_request(f"{name} header is not allowed with a temp URL")


def disposition(view: RequestView, stored: bytes | None) -> bytes:
    """``inline`` or ``attachment``, named by ``filename``; else what the object
    has stored; else an attachment named after the object."""
    filename = view.query.get("filename")
    if "inline" in view.query:
        return _named(b"inline", filename) if filename else b"inline"
    if filename:
        return _named(b"attachment", filename)
    if stored:
        return stored
    return _named(b"attachment", (view.obj or "").rstrip("/").rpartition("/")[2])


def _named(kind: bytes, filename: str) -> bytes:
    """RFC 6266: a plain ``filename`` for old browsers, ``filename*`` with the UTF-8."""
    plain = quote(filename, safe=" /").replace('"', "%22")
    return kind + f"; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}".encode()


def _as_download(send: Send, view: RequestView) -> Send:
    async def send_download(message: Message) -> None:
        if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
            headers = []
            stored = None
            for name, value in message.get("headers", []):
                key = name.lower()
                if key == b"content-disposition":
                    stored = value
                elif not key.startswith(OUTGOING_REMOVE.encode()) or key.startswith(
                    OUTGOING_ALLOW.encode()
                ):
                    headers.append((name, value))
            headers.append((b"content-disposition", disposition(view, stored)))
            message = {**message, "headers": headers}
        await send(message)

    return send_download

"""Microversion negotiation: which 2.x behaviour a request asked for, echoed back.

A client names the version with ``OpenStack-API-Version: compute 2.X`` (preferred) or
the legacy ``X-OpenStack-Nova-API-Version: 2.X`` (used when the first names no
``compute``); none means 2.1, ``latest`` means
``MAX``. Every ``/v2.1`` response carries both headers and ``Vary`` on them. A malformed
version is a 400, one outside ``MIN``..``MAX`` a 406, as Nova answers. Handlers branch
with ``since(req, 47)``, never by comparing strings.

``/v2`` (the v2.0 compatibility path) and ``/v2.1/{project_id}/...`` are rewritten to
plain ``/v2.1/...`` here, so routes are declared once.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.common.asgi.faults import FaultRenderer
from stratus.common.asgi.routing import ApiRequest


class Version(NamedTuple):
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


MIN = Version(2, 1)
MAX = Version(2, 79)
HEADER = "openstack-api-version"
LEGACY_HEADER = "x-openstack-nova-api-version"
_FORMAT = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")
_PROJECT_SEGMENT = re.compile(r"^/v2(?:\.1)?/[0-9a-f]{32}(?=/|$)")


class VersionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse(text: str) -> Version:
    text = text.strip()
    if text.lower() == "latest":
        return MAX
    found = _FORMAT.match(text)
    if found is None:
        raise VersionError(
            400,
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum.",
        )
    version = Version(int(found[1]), int(found[2]))
    if not MIN <= version <= MAX:
        raise VersionError(
            406,
            f"Version {version} is not supported by the API. Minimum is {MIN} and "
            f"maximum is {MAX}.",
        )
    return version


def requested(headers: Headers) -> Version:
    """The version the request's headers ask for (``MIN`` if none)."""
    for item in (headers.get(HEADER) or "").split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() == "compute":
            return parse(value)
    legacy = headers.get(LEGACY_HEADER)
    return parse(legacy) if legacy is not None else MIN


def version_of(req: ApiRequest) -> Version:
    found = req.raw.scope.get("state", {}).get("microversion", MIN)
    assert isinstance(found, Version)
    return found


def since(req: ApiRequest, minor: int) -> bool:
    """Whether the request asked for 2.``minor`` or later."""
    return version_of(req) >= Version(2, minor)


def _response_headers(version: Version) -> list[tuple[bytes, bytes]]:
    return [
        (b"openstack-api-version", f"compute {version}".encode()),
        (b"x-openstack-nova-api-version", str(version).encode()),
        (b"vary", b"OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
    ]


class MicroversionMiddleware:
    def __init__(self, app: ASGIApp, *, render: FaultRenderer) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        legacy = path == "/v2" or path.startswith("/v2/")
        path = _PROJECT_SEGMENT.sub(lambda m: m[0][: m[0].index("/", 1)], path)
        if legacy:
            path = "/v2.1" + path[3:]
        scope["path"] = path
        if not path.startswith("/v2.1"):
            await self.app(scope, receive, send)
            return
        try:
            version = MIN if legacy else requested(Headers(scope=scope))
        except VersionError as exc:
            await self.render(exc.status, "compute.microversion", exc.message)(scope, receive, send)
            return
        scope.setdefault("state", {})["microversion"] = version
        extra = [] if legacy else _response_headers(version)

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_version)

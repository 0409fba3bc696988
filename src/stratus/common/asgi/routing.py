"""Routes with their access rule declared beside the handler.

``Routes.route`` registers ``async def handler(req: ApiRequest) -> Response``; the router
authenticates the caller when the rule needs it, checks the rule, then calls the handler.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from stratus.common.asgi.policy import Rule, enforce
from stratus.common.context import RequestContext
from stratus.common.errors import InvalidInput, TooLarge, Unauthenticated

M = TypeVar("M", bound=BaseModel)

AUTH_HEADER = "x-auth-token"
# No database stores NUL in text alike (PostgreSQL refuses it), and no API name needs it.
NUL_MESSAGE = "NUL characters are not allowed in the path, query or body."


class Authenticator(Protocol):
    """Validates a token and returns the caller's context (raising ``Unauthenticated``)."""

    async def __call__(self, token: str, request_id: str) -> RequestContext: ...


class ApiRequest:
    """What a handler sees: the raw request, the caller, path parameters, bounded body."""

    __slots__ = ("_body", "ctx", "max_body", "params", "raw", "service")

    def __init__(self, raw: Request, ctx: RequestContext, max_body: int, service: Any) -> None:
        self.raw = raw
        self.service = service  # the owning service's state object, as passed to build_router
        self.ctx = ctx
        self.params: Mapping[str, str] = raw.path_params
        self.max_body = max_body
        self._body: bytes | None = None

    @property
    def query(self) -> QueryParams:
        return self.raw.query_params

    def header(self, name: str) -> str | None:
        return self.raw.headers.get(name)

    async def body(self) -> bytes:
        if self._body is None:
            self._body = await read_bounded(self.raw, self.max_body)
        return self._body

    async def json(self) -> Any:
        data = await self.body()
        if not data.strip():
            raise InvalidInput("request.empty_body", "The request body is empty; JSON expected.")
        if b"\\u0000" in data:
            raise InvalidInput("request.nul", NUL_MESSAGE)
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(
                "request.malformed_json", f"Malformed JSON in request body: {exc}"
            ) from None

    async def model(self, model: type[M]) -> M:
        """Parse the body into ``model``; unknown or missing fields are a 400 that names them."""
        return parse_model(model, await self.json())


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("request.invalid", describe_validation(exc)) from None


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        if err["type"] == "extra_forbidden":
            parts.append(f"Additional property '{where}' is not allowed")
        elif err["type"] == "missing":
            parts.append(f"'{where}' is a required property")
        else:
            parts.append(f"Invalid input for field '{where}': {err['msg']}")
    return "; ".join(parts) + "."


async def read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge("request.too_large", f"Request body exceeds {limit} bytes.")
        except ValueError:
            raise InvalidInput("request.bad_length", "Content-Length is not a number.") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge("request.too_large", f"Request body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


Handler = Callable[[ApiRequest], Awaitable[Response]]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    rule: Rule
    handler: Handler


@dataclass
class Routes:
    """A collection a module fills with ``@routes.route(...)``.

    With a ``policy_prefix``, a refusal names the action as the API's own policy does
    (``identity:list_users``) rather than the rule behind it.
    """

    policy_prefix: str = ""
    specs: list[RouteSpec] = field(default_factory=list)

    def route(self, method: str, path: str, *, rule: Rule) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if self.policy_prefix and rule.needs_auth:
                named = rule.named(f"{self.policy_prefix}:{handler.__name__}")
            else:
                named = rule
            self.specs.append(RouteSpec(method.upper(), path, named, handler))
            return handler

        return register


def _endpoint(
    specs: Mapping[str, RouteSpec], authenticate: Authenticator, max_body: int, service: Any
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if "\x00" in request.url.path or "%00" in request.url.query:
            raise InvalidInput("request.nul", NUL_MESSAGE)
        method = "GET" if request.method == "HEAD" else request.method
        spec = specs[method]
        ctx: RequestContext = request.scope["state"]["ctx"]
        if spec.rule.needs_auth:
            token = request.headers.get(AUTH_HEADER)
            if not token:
                raise Unauthenticated(
                    "auth.required", "The request you have made requires authentication."
                )
            ctx = await authenticate(token, ctx.request_id)
            request.scope["state"]["ctx"] = ctx
        enforce(spec.rule.allows(ctx, request.path_params), spec.rule.name)
        return await spec.handler(ApiRequest(request, ctx, max_body, service))

    return endpoint


def build_router(
    specs: Iterable[RouteSpec], *, authenticate: Authenticator, max_body: int, service: Any
) -> Router:
    """One Starlette route per path, dispatching on method to the declared handlers."""
    by_path: dict[str, dict[str, RouteSpec]] = {}
    for spec in specs:
        methods = by_path.setdefault(spec.path, {})
        if spec.method in methods:
            raise ValueError(f"duplicate route {spec.method} {spec.path}")
        methods[spec.method] = spec
    routes = [
        Route(path, _endpoint(methods, authenticate, max_body, service), methods=list(methods))
        for path, methods in by_path.items()
    ]
    return Router(routes=routes)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), default=str),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )

"""Routes an incoming request to the handler registered for its message type.

The same dispatcher runs under every transport: it takes the request bytes and gives back
the reply bytes (or ``None`` for a cast), and never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, ValidationError

from stratus.common import context
from stratus.common.context import RequestContext
from stratus.common.errors import InvalidInput, StratusError
from stratus.common.rpc import envelope
from stratus.common.rpc.errors import INVALID_MESSAGE, remote_error, unknown_message
from stratus.common.rpc.messages import Call, Cast, Message, describe

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)
CastT = TypeVar("CastT", bound=Cast)
CallT = TypeVar("CallT", bound=Call[Any])

CastHandler = Callable[[RequestContext, CastT], Awaitable[None]]


@dataclass(frozen=True)
class _Route:
    msg_type: type[Message]
    handler: Callable[[RequestContext, Any], Awaitable[BaseModel | None]]


class _CallRegistration(Generic[R]):
    """What ``Dispatcher.handler(SomeCall)`` returns: checks the handler's reply type."""

    def __init__(self, dispatcher: Dispatcher, msg_type: type[Call[R]]) -> None:
        self._dispatcher = dispatcher
        self._msg_type = msg_type

    def __call__(
        self, fn: Callable[[RequestContext, CallT], Awaitable[R]]
    ) -> Callable[[RequestContext, CallT], Awaitable[R]]:
        self._dispatcher.add(self._msg_type, fn)
        return fn


class Dispatcher:
    """Handlers by wire name; ``@dispatcher.handler(MessageType)`` registers one."""

    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}

    @overload
    def handler(
        self, msg_type: type[CastT]
    ) -> Callable[[CastHandler[CastT]], CastHandler[CastT]]: ...

    @overload
    def handler(self, msg_type: type[Call[R]]) -> _CallRegistration[R]: ...

    def handler(self, msg_type: type[Message]) -> Any:
        if issubclass(msg_type, Call):
            return _CallRegistration(self, msg_type)

        def register(fn: CastHandler[CastT]) -> CastHandler[CastT]:
            self.add(msg_type, fn)
            return fn

        return register

    def add(
        self,
        msg_type: type[Message],
        fn: Callable[[RequestContext, Any], Awaitable[BaseModel | None]],
    ) -> None:
        """Register ``fn`` for ``msg_type`` (what the decorator does)."""
        if not (issubclass(msg_type, (Cast, Call)) and msg_type.wire_name):
            raise TypeError(f"{msg_type.__qualname__} is not a Cast or Call message")
        if msg_type.wire_name in self._routes:
            raise ValueError(f"a handler for {msg_type.wire_name} is already registered")
        self._routes[msg_type.wire_name] = _Route(msg_type, fn)

    @property
    def wire_names(self) -> frozenset[str]:
        return frozenset(self._routes)

    async def dispatch(self, data: bytes) -> bytes | None:
        """Handle one request; return the encoded reply for a call, ``None`` for a cast."""
        try:
            req = envelope.decode_request(data)
        except ValueError as exc:
            log.warning("dropping an RPC request that is not valid: %s", exc)
            return envelope.encode_error(InvalidInput(INVALID_MESSAGE, "malformed RPC request"))
        token = context.bind(req.context)
        try:
            reply = await self._run(req)
        finally:
            context.unbind(token)
        return reply if req.kind == "call" else None

    async def _run(self, req: envelope.RequestEnvelope) -> bytes:
        route = self._routes.get(req.name)
        try:
            msg = self._parse(req, route)
            assert route is not None
            result = await route.handler(req.context, msg)
            return self._encode_result(req, route, result)
        except StratusError as exc:
            level = logging.WARNING if req.kind == "cast" else logging.DEBUG
            log.log(level, "%s v%d failed: %s: %s", req.name, req.version, exc.code, exc.message)
            return envelope.encode_error(exc)
        except Exception:
            log.exception(
                "unexpected error handling %s v%d (request %s)",
                req.name,
                req.version,
                req.context.request_id,
            )
            return envelope.encode_error(
                remote_error(
                    f"{req.name} failed on the server; see its log for request "
                    f"{req.context.request_id}"
                )
            )

    @staticmethod
    def _parse(req: envelope.RequestEnvelope, route: _Route | None) -> Message:
        if route is None:
            raise unknown_message(f"this server has no handler for {req.name}")
        if req.version > route.msg_type.version:
            raise unknown_message(
                f"{req.name} v{req.version} is newer than {describe(route.msg_type)} "
                "known to this server"
            )
        expected = "call" if issubclass(route.msg_type, Call) else "cast"
        if req.kind != expected:
            raise InvalidInput(INVALID_MESSAGE, f"{req.name} is a {expected}, sent as a {req.kind}")
        try:
            return route.msg_type.model_validate(req.body)
        except ValidationError as exc:
            raise InvalidInput(
                INVALID_MESSAGE, f"invalid {req.name}: {envelope.first_error(exc)}"
            ) from None

    @staticmethod
    def _encode_result(
        req: envelope.RequestEnvelope, route: _Route, result: BaseModel | None
    ) -> bytes:
        if not issubclass(route.msg_type, Call):
            return b""
        reply_type = route.msg_type.reply_type()
        if not isinstance(result, reply_type):
            raise TypeError(
                f"the handler of {req.name} returned {type(result).__name__}, "
                f"not {reply_type.__name__}"
            )
        return envelope.encode_reply(result)

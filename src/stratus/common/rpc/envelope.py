"""The wire format: one JSON document per message and per reply.

A request carries the message's wire name and version, the caller's request context
(never its token) and the message body. A reply carries either the reply body or an
error's code, message and kind, never a traceback.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from stratus.common import errors
from stratus.common.context import RequestContext
from stratus.common.rpc.errors import BAD_REPLY
from stratus.common.rpc.messages import Message

FORMAT = 1  # version of the envelope itself, bumped only if this layout changes

R = TypeVar("R", bound=BaseModel)


class RequestEnvelope(BaseModel):
    format: int = FORMAT
    kind: Literal["cast", "call"]
    name: str
    version: int
    context: RequestContext
    body: dict[str, Any]


class ErrorBody(BaseModel):
    code: str
    message: str
    kind: str


class ReplyEnvelope(BaseModel):
    body: dict[str, Any] | None = None
    error: ErrorBody | None = None


def encode_request(msg: Message, kind: Literal["cast", "call"], ctx: RequestContext) -> bytes:
    req = RequestEnvelope(
        kind=kind,
        name=msg.wire_name,
        version=msg.version,
        context=ctx,
        body=msg.model_dump(mode="json"),
    )
    return req.model_dump_json().encode()


def decode_request(data: bytes) -> RequestEnvelope:
    """Parse a request; raise ``ValueError`` if it is not one."""
    return RequestEnvelope.model_validate_json(data)


def encode_reply(reply: BaseModel) -> bytes:
    return ReplyEnvelope(body=reply.model_dump(mode="json")).model_dump_json().encode()


def encode_error(exc: errors.StratusError) -> bytes:
    err = ErrorBody(code=exc.code, message=exc.message, kind=str(exc.kind))
    return ReplyEnvelope(error=err).model_dump_json().encode()


def decode_reply(data: bytes, reply_type: type[R], name: str) -> R:
    """The reply model, or raise the error the server sent back."""
    try:
        reply = ReplyEnvelope.model_validate_json(data)
        if reply.error is not None:
            raise errors.rebuild(reply.error.code, reply.error.message, reply.error.kind)
        return reply_type.model_validate(reply.body)
    except ValidationError as exc:
        problem = first_error(exc)
        raise errors.StratusError(
            BAD_REPLY, f"the reply to {name} is not a valid {reply_type.__name__}: {problem}"
        ) from None


def first_error(exc: ValidationError) -> str:
    """One line describing a validation failure, for error messages."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    return f"{where}: {first['msg']}"

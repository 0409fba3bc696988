"""The dispatcher: routing, versions, validation, errors and the bound request context."""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest
from pydantic import BaseModel, Field

from stratus.common import context
from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden, StratusError
from stratus.common.rpc import Call, Cast, Dispatcher, envelope


class Sum(BaseModel):
    total: int


class Add(Call[Sum]):
    wire_name: ClassVar[str] = "unit.add"
    version: ClassVar[int] = 2
    a: int
    b: int = Field(default=0, ge=0)


class Wrong(Call[Sum]):
    wire_name: ClassVar[str] = "unit.wrong"


class Tell(Cast):
    wire_name: ClassVar[str] = "unit.tell"
    text: str


class Unknown(Cast):
    wire_name: ClassVar[str] = "unit.unknown"


class AddV3(Call[Sum]):
    wire_name: ClassVar[str] = "unit.add"
    version: ClassVar[int] = 3
    a: int


told: list[tuple[str, str | None]] = []
dispatcher = Dispatcher()


@dispatcher.handler(Add)
async def add(ctx: RequestContext, msg: Add) -> Sum:
    if msg.a < 0:
        raise Forbidden("unit.negative", "no negatives")
    return Sum(total=msg.a + msg.b)


@dispatcher.handler(Wrong)
async def wrong(ctx: RequestContext, msg: Wrong) -> Sum:
    return Tell(text="not a Sum")  # type: ignore[return-value]


@dispatcher.handler(Tell)
async def tell(ctx: RequestContext, msg: Tell) -> None:
    bound = context.current()
    told.append((msg.text, bound.request_id if bound else None))
    if msg.text == "fail":
        raise ValueError("boom")


def request(msg: Add | Wrong | Tell | Unknown | AddV3, kind: str = "call") -> bytes:
    return envelope.encode_request(msg, kind, RequestContext(request_id="req-x"))  # type: ignore[arg-type]


def error_of(reply: bytes | None) -> envelope.ErrorBody:
    assert reply is not None
    parsed = envelope.ReplyEnvelope.model_validate_json(reply)
    assert parsed.error is not None
    return parsed.error


async def test_call_gets_the_handler_reply() -> None:
    reply = await dispatcher.dispatch(request(Add(a=1, b=2)))
    assert reply is not None
    assert envelope.decode_reply(reply, Sum, "unit.add") == Sum(total=3)


async def test_older_version_is_accepted() -> None:
    data = request(Add(a=1)).replace(b'"version":2', b'"version":1')
    assert error_of_or_none(await dispatcher.dispatch(data)) is None


def error_of_or_none(reply: bytes | None) -> envelope.ErrorBody | None:
    assert reply is not None
    return envelope.ReplyEnvelope.model_validate_json(reply).error


async def test_newer_version_is_an_unknown_message() -> None:
    err = error_of(await dispatcher.dispatch(request(AddV3(a=1))))
    assert err.code == "rpc.unknown_message"
    assert "v3" in err.message and "v2" in err.message


async def test_unknown_wire_name() -> None:
    err = error_of(await dispatcher.dispatch(request(Unknown(), kind="call")))
    assert err.code == "rpc.unknown_message"


async def test_unknown_cast_is_dropped_without_reply() -> None:
    assert await dispatcher.dispatch(request(Unknown(), kind="cast")) is None


async def test_invalid_body_is_rejected() -> None:
    data = request(Add(a=1)).replace(b'"b":0', b'"b":-5')
    err = error_of(await dispatcher.dispatch(data))
    assert (err.code, err.kind) == ("rpc.invalid_message", "invalid")


async def test_malformed_request_gets_an_error_reply() -> None:
    err = error_of(await dispatcher.dispatch(b"\xff garbage"))
    assert err.code == "rpc.invalid_message"


async def test_stratus_error_crosses_unchanged() -> None:
    err = error_of(await dispatcher.dispatch(request(Add(a=-1))))
    assert (err.code, err.message, err.kind) == ("unit.negative", "no negatives", "forbidden")


async def test_wrong_reply_type_is_a_remote_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        err = error_of(await dispatcher.dispatch(request(Wrong())))
    assert (err.code, err.kind) == ("rpc.remote_error", "internal")
    assert "req-x" in caplog.text


async def test_cast_runs_with_the_request_context_bound() -> None:
    told.clear()
    assert await dispatcher.dispatch(request(Tell(text="hi"), kind="cast")) is None
    assert told == [("hi", "req-x")]
    assert context.current() is None


async def test_failing_cast_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert await dispatcher.dispatch(request(Tell(text="fail"), kind="cast")) is None
    assert len(caplog.records) == 1 and "req-x" in caplog.records[0].getMessage()


async def test_call_sent_as_cast_is_rejected() -> None:
    assert await dispatcher.dispatch(request(Add(a=1), kind="cast")) is None


def test_duplicate_handler_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.add(Tell, tell)


def test_plain_model_cannot_be_registered() -> None:
    with pytest.raises(TypeError):
        dispatcher.add(Sum, tell)  # type: ignore[arg-type]


def test_stratus_error_type_is_preserved_by_rebuild() -> None:
    data = envelope.encode_error(Forbidden("unit.x", "nope"))
    with pytest.raises(StratusError) as caught:
        envelope.decode_reply(data, Sum, "unit.add")
    assert isinstance(caught.value, Forbidden)

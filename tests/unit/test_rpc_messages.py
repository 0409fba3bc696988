"""Message declarations, addresses and the wire envelope."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import BaseModel

from stratus.common.context import RequestContext
from stratus.common.errors import NotFound, StratusError
from stratus.common.rpc import Call, Cast, envelope
from stratus.common.rpc.transport import address


class Pong(BaseModel):
    n: int


class Ping(Call[Pong]):
    wire_name: ClassVar[str] = "unit.ping"
    n: int = 0


class Hello(Cast):
    wire_name: ClassVar[str] = "unit.hello"
    version: ClassVar[int] = 3
    name: str


def test_call_knows_its_reply_type() -> None:
    assert Ping.reply_type() is Pong


def test_subclass_of_a_call_keeps_the_reply_type() -> None:
    class PingMore(Ping):
        wire_name: ClassVar[str] = "unit.ping_more"

    assert PingMore.reply_type() is Pong


@pytest.mark.parametrize("name", ["", "ping", "Unit.Ping", "unit.", "unit ping.x"])
def test_wire_name_must_be_dotted_lower_case(name: str) -> None:
    with pytest.raises(TypeError, match="wire_name"):
        type("Bad", (Cast,), {"__annotations__": {"wire_name": "ClassVar[str]"}, "wire_name": name})


def test_version_must_be_positive() -> None:
    with pytest.raises(TypeError, match="version"):

        class Bad(Cast):
            wire_name: ClassVar[str] = "unit.bad"
            version: ClassVar[int] = 0


def test_call_without_reply_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="reply type"):

        class Bare(Call):  # type: ignore[type-arg]
            wire_name: ClassVar[str] = "unit.bare"


def test_request_envelope_round_trip_without_token() -> None:
    ctx = RequestContext(request_id="req-1", project_id="p", auth_token="secret-token")
    data = envelope.encode_request(Hello(name="x"), "cast", ctx)
    assert b"secret-token" not in data
    req = envelope.decode_request(data)
    assert (req.kind, req.name, req.version, req.body) == ("cast", "unit.hello", 3, {"name": "x"})
    assert req.context.request_id == "req-1" and req.context.project_id == "p"
    assert req.context.auth_token is None


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'{"kind": "cast"}'])
def test_malformed_request_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        envelope.decode_request(data)


def test_reply_round_trip() -> None:
    assert envelope.decode_reply(envelope.encode_reply(Pong(n=2)), Pong, "unit.ping") == Pong(n=2)


def test_error_reply_is_rebuilt_with_code_message_and_kind() -> None:
    data = envelope.encode_error(NotFound("unit.thing.not_found", "no thing"))
    assert set(json.loads(data)["error"]) == {"code", "message", "kind"}
    with pytest.raises(NotFound) as caught:
        envelope.decode_reply(data, Pong, "unit.ping")
    assert (caught.value.code, caught.value.message) == ("unit.thing.not_found", "no thing")


def test_reply_of_the_wrong_shape_is_a_bad_reply() -> None:
    data = envelope.encode_reply(Hello(name="x"))
    with pytest.raises(StratusError) as caught:
        envelope.decode_reply(data, Pong, "unit.ping")
    assert caught.value.code == "rpc.bad_reply"
    assert "unit.ping" in caught.value.message


def test_addresses() -> None:
    assert address("compute") == "compute"
    assert address("compute", "node1.example.org") == "compute.node1.example.org"
    for topic in ("", "a.b", "Compute", "a b"):
        with pytest.raises(ValueError):
            address(topic)
    with pytest.raises(ValueError):
        address("compute", "")

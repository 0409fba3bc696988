"""The RPC contract, run on both transports: the in-process bus and RabbitMQ."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import pytest
from pydantic import BaseModel

from stratus.common import context
from stratus.common.context import RequestContext
from stratus.common.errors import Conflict, Kind, StratusError
from stratus.common.rpc import Bus, Call, Cast, Dispatcher, NoServer, RpcTimeout, connect

pytestmark = [
    pytest.mark.integration,
    # Rarely, after 200 concurrent AMQP calls, aio-pika leaves internal tasks pending when
    # the connection closes and asyncio reports them at garbage collection. The replies
    # are all checked; only that teardown report is not made an error here (open issue:
    # find which aiormq task outlives Connection.close()).
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

TOPIC = "rpctest"


class Echoed(BaseModel):
    text: str
    host: str
    request_id: str


class Echo(Call[Echoed]):
    wire_name: ClassVar[str] = "rpctest.echo"
    text: str
    delay: float = 0.0


class EchoV2(Call[Echoed]):
    wire_name: ClassVar[str] = "rpctest.echo"
    version: ClassVar[int] = 2
    text: str


class Refuse(Call[Echoed]):
    wire_name: ClassVar[str] = "rpctest.refuse"


class Crash(Call[Echoed]):
    wire_name: ClassVar[str] = "rpctest.crash"


class Unheard(Call[Echoed]):
    wire_name: ClassVar[str] = "rpctest.unheard"


class Note(Cast):
    wire_name: ClassVar[str] = "rpctest.note"
    text: str
    delay: float = 0.0


Seen = list[tuple[str, str]]  # (host, text) of every Note handled


def make_dispatcher(host: str, seen: Seen) -> Dispatcher:
    d = Dispatcher()

    @d.handler(Echo)
    async def echo(ctx: RequestContext, msg: Echo) -> Echoed:
        await asyncio.sleep(msg.delay)
        bound = context.current()
        assert bound is not None
        return Echoed(text=msg.text, host=host, request_id=bound.request_id)

    @d.handler(Refuse)
    async def refuse(ctx: RequestContext, msg: Refuse) -> Echoed:
        raise Conflict("rpctest.refused", f"{host} refuses")

    @d.handler(Crash)
    async def crash(ctx: RequestContext, msg: Crash) -> Echoed:
        raise RuntimeError("secret internals")

    @d.handler(Note)
    async def note(ctx: RequestContext, msg: Note) -> None:
        await asyncio.sleep(msg.delay)
        seen.append((host, msg.text))

    return d


BusFactory = Callable[[], Awaitable[Bus]]


@pytest.fixture(params=["memory", "amqp"])
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Connect buses (one per simulated process) to the same broker; close them after."""
    if request.param == "amqp":
        url, exchange = (
            request.getfixturevalue("amqp_url"),
            request.getfixturevalue("amqp_exchange"),
        )
    else:
        url, exchange = f"memory://{uuid.uuid4().hex}", "stratus"
    buses: list[Bus] = []

    async def make() -> Bus:
        bus = await connect(url, exchange=exchange, call_timeout=10.0)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


async def servers(new_bus: BusFactory, seen: Seen, *hosts: str) -> None:
    for host in hosts:
        bus = await new_bus()
        await bus.serve(TOPIC, make_dispatcher(host, seen), host=host)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_call_returns_the_typed_reply(new_bus: BusFactory) -> None:
    await servers(new_bus, [], "h1")
    client = await new_bus()
    reply = await client.call(TOPIC, Echo(text="hi"))
    assert isinstance(reply, Echoed)
    assert (reply.text, reply.host) == ("hi", "h1")


async def test_cast_is_handled_once_by_one_of_the_servers(new_bus: BusFactory) -> None:
    seen: Seen = []
    await servers(new_bus, seen, "h1", "h2", "h3")
    client = await new_bus()
    for i in range(60):
        await client.cast(TOPIC, Note(text=str(i), delay=0.01))
    await wait_for(lambda: len(seen) >= 60)
    await asyncio.sleep(0.2)  # a duplicate would show up now
    assert sorted(int(text) for _, text in seen) == list(range(60))
    by_host = Counter(host for host, _ in seen)
    assert len(by_host) > 1, f"not load-balanced: {by_host}"


async def test_host_address_reaches_only_that_host(new_bus: BusFactory) -> None:
    seen: Seen = []
    await servers(new_bus, seen, "h1", "h2")
    client = await new_bus()
    for i in range(10):
        await client.cast(TOPIC, Note(text=str(i)), host="h2")
    replies = [await client.call(TOPIC, Echo(text="x"), host="h1") for _ in range(10)]
    await wait_for(lambda: len(seen) >= 10)
    assert {host for host, _ in seen} == {"h2"}
    assert {r.host for r in replies} == {"h1"}


async def test_fanout_reaches_every_server_once(new_bus: BusFactory) -> None:
    seen: Seen = []
    await servers(new_bus, seen, "h1", "h2", "h3")
    client = await new_bus()
    await client.fanout(TOPIC, Note(text="all"))
    await wait_for(lambda: len(seen) >= 3)
    await asyncio.sleep(0.2)
    assert sorted(seen) == [("h1", "all"), ("h2", "all"), ("h3", "all")]


async def test_fanout_without_servers_is_dropped(new_bus: BusFactory) -> None:
    client = await new_bus()
    await client.fanout("nobody", Note(text="lost"))


async def test_remote_stratus_error_is_raised_with_code_and_kind(new_bus: BusFactory) -> None:
    await servers(new_bus, [], "h1")
    client = await new_bus()
    with pytest.raises(Conflict) as caught:
        await client.call(TOPIC, Refuse())
    assert caught.value.code == "rpctest.refused"
    assert caught.value.kind is Kind.CONFLICT
    assert caught.value.message == "h1 refuses"


async def test_unexpected_exception_becomes_remote_error(
    new_bus: BusFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await servers(new_bus, [], "h1")
    client = await new_bus()
    ctx = RequestContext()
    with caplog.at_level(logging.ERROR), pytest.raises(StratusError) as caught:
        await client.call(TOPIC, Crash(), ctx=ctx)
    assert caught.value.code == "rpc.remote_error"
    assert caught.value.kind is Kind.INTERNAL
    assert "secret internals" not in caught.value.message
    assert ctx.request_id in caught.value.message
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert ctx.request_id in errors[0].getMessage()
    assert errors[0].exc_info is not None


async def test_call_times_out_when_no_server_answers(new_bus: BusFactory) -> None:
    bus = await new_bus()
    server = await bus.serve(TOPIC, make_dispatcher("h1", []), host="h1")
    await server.stop()  # the queue stays, nobody consumes it
    client = await new_bus()
    started = time.monotonic()
    with pytest.raises(RpcTimeout) as caught:
        await client.call(TOPIC, Echo(text="anyone?"), timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.5
    assert caught.value.code == "rpc.timeout"
    assert caught.value.kind is Kind.UNAVAILABLE
    assert TOPIC in caught.value.message and "rpctest.echo" in caught.value.message


async def test_slow_handler_times_out(new_bus: BusFactory) -> None:
    await servers(new_bus, [], "h1")
    client = await new_bus()
    with pytest.raises(RpcTimeout):
        await client.call(TOPIC, Echo(text="slow", delay=1.0), timeout=0.3)


async def test_call_to_a_topic_never_served_fails_fast(new_bus: BusFactory) -> None:
    client = await new_bus()
    started = time.monotonic()
    with pytest.raises(NoServer) as caught:
        await client.call("nobody", Echo(text="?"), timeout=5)
    assert time.monotonic() - started < 2
    assert caught.value.code == "rpc.no_server"
    assert caught.value.kind is Kind.UNAVAILABLE


async def test_request_id_reaches_the_handler(new_bus: BusFactory) -> None:
    await servers(new_bus, [], "h1")
    client = await new_bus()
    explicit = await client.call(TOPIC, Echo(text="a"), ctx=RequestContext(request_id="req-one"))
    token = context.bind(RequestContext(request_id="req-bound"))
    try:
        implicit = await client.call(TOPIC, Echo(text="b"))
    finally:
        context.unbind(token)
    assert explicit.request_id == "req-one"
    assert implicit.request_id == "req-bound"


async def test_concurrent_calls_all_get_their_own_reply(new_bus: BusFactory) -> None:
    await servers(new_bus, [], "h1", "h2")
    client = await new_bus()
    replies = await asyncio.gather(
        *(client.call(TOPIC, Echo(text=str(i), delay=0.01)) for i in range(200))
    )
    assert [r.text for r in replies] == [str(i) for i in range(200)]


async def test_unknown_message_gets_an_error_reply(new_bus: BusFactory) -> None:
    await servers(new_bus, [], "h1")
    client = await new_bus()
    with pytest.raises(StratusError) as unknown:
        await client.call(TOPIC, Unheard())
    with pytest.raises(StratusError) as newer:
        await client.call(TOPIC, EchoV2(text="from the future"))
    assert unknown.value.code == newer.value.code == "rpc.unknown_message"
    assert "v2" in newer.value.message
    assert (await client.call(TOPIC, Echo(text="still up"))).text == "still up"


async def test_cast_waits_for_a_server_that_starts_later(new_bus: BusFactory) -> None:
    client = await new_bus()
    await client.cast(TOPIC, Note(text="shared"))
    await client.cast(TOPIC, Note(text="mine"), host="late")
    seen: Seen = []
    await servers(new_bus, seen, "late")
    await wait_for(lambda: len(seen) >= 2)
    assert sorted(seen) == [("late", "mine"), ("late", "shared")]


async def test_stop_waits_for_running_handlers(new_bus: BusFactory) -> None:
    seen: Seen = []
    bus = await new_bus()
    server = await bus.serve(TOPIC, make_dispatcher("h1", seen), host="h1")
    client = await new_bus()
    await client.cast(TOPIC, Note(text="slow", delay=0.3))
    await asyncio.sleep(0.1)
    await server.stop()
    assert seen == [("h1", "slow")]


async def test_call_succeeds_after_the_broker_drops_connections(
    amqp_url: str,
    amqp_exchange: str,
    amqp_drop_connections: Callable[[str], Awaitable[int]],
) -> None:
    seen: Seen = []
    async with (
        await connect(amqp_url, exchange=amqp_exchange) as server_bus,
        await connect(amqp_url, exchange=amqp_exchange) as client,
    ):
        await server_bus.serve(TOPIC, make_dispatcher("h1", seen), host="h1")
        assert (await client.call(TOPIC, Echo(text="before"))).text == "before"
        assert await amqp_drop_connections(amqp_exchange) == 2
        reply = await client.call(TOPIC, Echo(text="after"), timeout=20)
        assert (reply.text, reply.host) == ("after", "h1")
        await client.cast(TOPIC, Note(text="cast after"), host="h1")
        await client.fanout(TOPIC, Note(text="fanout after"))
        await wait_for(lambda: len(seen) >= 2, timeout=20)
        assert sorted(seen) == [("h1", "cast after"), ("h1", "fanout after")]

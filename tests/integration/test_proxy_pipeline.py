"""The proxy's middleware plumbing: the gatekeeper, stored headers and subrequests.

Over real HTTP to the NoAuth proxy of ``swiftcluster`` in front of real storage servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send
from swiftcluster import SwiftCluster, swift_cluster

from stratus.objectstore.proxy.auth import Caller
from stratus.objectstore.proxy.subrequest import body_receiver, capture, relay, subrequest


@pytest.fixture
def swift(tmp_path: Path) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path / "cluster") as c:
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def test_clients_cannot_write_or_read_sysmeta(http: httpx.Client) -> None:
    assert http.put("/c").status_code == 201
    put = http.put(
        "/c/o",
        content=b"data",
        headers={
            "X-Object-Sysmeta-Slo-Size": "999",
            "X-Container-Sysmeta-Versions": "x",
            "X-Backend-Storage-Policy-Index": "7",
        },
    )
    assert put.status_code == 201
    head = http.head("/c/o")
    assert head.status_code == 200
    assert not [k for k in head.headers if "sysmeta" in k.lower() or "backend" in k.lower()]
    post = http.post("/c", headers={"X-Container-Sysmeta-Quota": "1"})
    assert post.status_code == 204
    assert not [k for k in http.head("/c").headers if "sysmeta" in k.lower()]


def test_hidden_accounts_are_forbidden(swift: SwiftCluster) -> None:
    with httpx.Client(base_url=swift.url, timeout=30) as client:
        assert client.get("/v1/.expiring_objects").status_code == 403
        assert client.put("/v1/.expiring_objects/c").status_code == 403


def test_stored_headers_follow_put_and_post(http: httpx.Client) -> None:
    assert http.put("/c").status_code == 201
    headers = {
        "Content-Disposition": 'attachment; filename="r.txt"',
        "Content-Encoding": "gzip",
        "Cache-Control": "max-age=60",
        "X-Object-Meta-Color": "blue",
    }
    assert http.put("/c/o", content=b"x", headers=headers).status_code == 201
    got = http.get("/c/o")
    assert got.headers["content-disposition"] == 'attachment; filename="r.txt"'
    assert got.headers["cache-control"] == "max-age=60"
    assert got.headers["x-object-meta-color"] == "blue"
    # a POST replaces them all, as Swift does
    assert http.post("/c/o", headers={"Content-Language": "fr"}).status_code == 202
    got = http.head("/c/o")
    assert got.headers["content-language"] == "fr"
    assert "content-disposition" not in got.headers
    assert "x-object-meta-color" not in got.headers
    # copies keep them
    copied = http.request("COPY", "/c/o", headers={"Destination": "c/o2"})
    assert copied.status_code == 201
    assert http.head("/c/o2").headers["content-language"] == "fr"


async def _echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the body it was sent and what it was told in the scope."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"].encode()
    headers = [(b"x-path", path), (b"x-caller", repr(scope.get("stratus.swift.caller")).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    for piece in (body[:3], body[3:]):
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def test_subrequest_streams_both_ways_and_inherits_the_caller() -> None:
    caller = Caller(project_id="p1")
    parent: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/AUTH_p1/c",
        "headers": [],
        "stratus.swift.caller": caller,
    }

    async def body() -> Iterator[bytes]:  # type: ignore[misc]
        yield b"hello "
        yield b"world"

    sub = await subrequest(_echo_app, parent, "PUT", "/v1/AUTH_p1/c/ö", source="test", body=body())
    async with sub:
        assert sub.status == 201
        assert sub.header("x-path") == "/v1/AUTH_p1/c/ö"
        assert "p1" in (sub.header("x-caller") or "")
        assert await sub.read() == b"hello world"


async def test_capture_reports_an_app_failure_before_its_response() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError):
        await capture(broken, {"type": "http", "method": "GET", "path": "/"}, body_receiver(None))


async def test_relay_passes_a_response_on() -> None:
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:  # type: ignore[misc]
        sent.append(message)

    sub = await capture(
        _echo_app, {"type": "http", "method": "PUT", "path": "/x"}, body_receiver(b"abcdef")
    )
    await relay(sub, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 201
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"abcdef"  # type: ignore[misc]

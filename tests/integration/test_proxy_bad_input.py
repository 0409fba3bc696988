"""Malformed and hostile requests against the real proxy, over raw sockets (clients
would refuse to send most of these). Each gets Swift's status, never a 500, and a
refused write leaves nothing behind: no object, no listing entry, no temp file.

Basic cases (long names, a few metadata limits, 411/413) are in ``test_proxy.py``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPMessage, HTTPResponse
from pathlib import Path

import httpx
import pytest
from swiftcluster import SwiftCluster, swift_cluster

ACCOUNT = "/v1/AUTH_test"
CLIENT_TIMEOUT = 2.0  # the proxy's wait for each piece of a body


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    root: Path = tmp_path_factory.mktemp("bad-input") / "cluster"
    with swift_cluster(root, client_timeout=CLIENT_TIMEOUT) as c:
        with httpx.Client(base_url=c.storage_url(), timeout=60) as client:
            assert client.put("/c").status_code == 201
            assert client.put("/c/digits", content=b"0123456789").status_code == 201
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


@dataclass
class Answer:
    status: int
    headers: HTTPMessage
    body: bytes


def send(swift: SwiftCluster, head: bytes, body: bytes = b"") -> Answer:
    """One hand-written request (``head`` without the blank line) and its answer."""
    with socket.create_connection(("127.0.0.1", swift.proxy_port), timeout=30) as sock:
        sock.sendall(head + b"\r\nHost: x\r\n\r\n" + body)
        response = HTTPResponse(sock, method=head.split(b" ", 1)[0].decode())
        response.begin()
        return Answer(response.status, response.headers, response.read())


def put_head(path: str, *headers: str) -> bytes:
    lines = [f"PUT {ACCOUNT}{path} HTTP/1.1", *headers]
    return "\r\n".join(lines).encode("utf-8", "surrogateescape")


def assert_nothing_stored(swift: SwiftCluster, http: httpx.Client, obj: str) -> None:
    assert http.head(f"/c/{obj}").status_code == 404
    assert http.get("/c").text.split() == ["digits"]
    deadline = time.monotonic() + 10
    while swift.tmp_files():
        assert time.monotonic() < deadline, "temp files left behind"
        time.sleep(0.05)


# ---- paths --------------------------------------------------------------------------------

PATHS = {
    "version only": (b"GET /v1 HTTP/1.1", 412, b"Bad URL"),
    "object without container": (b"GET /v1/AUTH_test//o HTTP/1.1", 412, b"Bad URL"),
    "empty path segments": (b"GET // HTTP/1.1", 404, b""),
    "bad percent escape": (b"GET /v1/AUTH_test/%ZZ HTTP/1.1", 404, b""),
    "percent-encoded invalid UTF-8": (
        b"PUT /v1/AUTH_test/c/%C3%28 HTTP/1.1\r\nContent-Length: 0",
        412,
        b"Invalid UTF8 or contains NULL",
    ),
    "NUL in the name": (
        b"PUT /v1/AUTH_test/c/a%00b HTTP/1.1\r\nContent-Length: 0",
        412,
        b"Invalid UTF8 or contains NULL",
    ),
    "invalid UTF-8 in the account": (b"GET /v1/AUTH_%FF HTTP/1.1", 412, b""),
    "slash in a container name is a path": (
        b"PUT /v1/AUTH_test/nocont%2Fo HTTP/1.1\r\nContent-Length: 0",
        404,
        b"",
    ),
}


@pytest.mark.parametrize("case", PATHS)
def test_malformed_paths(swift: SwiftCluster, http: httpx.Client, case: str) -> None:
    head, status, text = PATHS[case]
    got = send(swift, head)
    assert got.status == status
    assert text in got.body
    assert http.get("/c").text.split() == ["digits"]


def test_name_limits_count_utf8_bytes(http: httpx.Client) -> None:
    assert http.put("/" + "é" * 128).status_code == 201  # 256 bytes
    assert http.put("/" + "é" * 128 + "x").status_code == 400
    assert http.put("/c/" + "ö" * 512, content=b"x").status_code == 201  # 1024 bytes
    assert http.put("/c/" + "ö" * 512 + "x", content=b"x").status_code == 400
    assert http.delete("/c/" + "ö" * 512).status_code == 204
    assert http.delete("/" + "é" * 128).status_code == 204


# ---- headers and metadata -----------------------------------------------------------------

META_CASES = {
    "invalid UTF-8 value": ["X-Object-Meta-Color: \udcff\udcfe"],
    "invalid UTF-8 name": ["X-Object-Meta-\udcff: v"],
    "empty name": ["X-Object-Meta-: v"],
    "over 4096 bytes in all": [f"X-Object-Meta-K{i:02d}: {'v' * 200}" for i in range(21)],
    "invalid UTF-8 content type": ["Content-Type: \udcff"],
    "header over 8192 bytes": ["X-Trans-Id-Extra: " + "x" * 9000],
    "too many headers": [f"X-Other-{i}: v" for i in range(120)],
}


@pytest.mark.parametrize("case", META_CASES)
def test_bad_headers_on_put(swift: SwiftCluster, http: httpx.Client, case: str) -> None:
    head = put_head("/c/victim", "Content-Length: 1", *META_CASES[case])
    assert send(swift, head, b"x").status == 400
    assert_nothing_stored(swift, http, "victim")


def test_metadata_exactly_at_the_limits(http: httpx.Client) -> None:
    full = {f"X-Object-Meta-K{i:02d}": "v" * 253 for i in range(16)}  # 16 * 256 = 4096
    assert http.put("/c/full", content=b"x", headers=full).status_code == 201
    assert http.delete("/c/full").status_code == 204
    over = {f"X-Container-Meta-K{i:02d}": "v" * 200 for i in range(21)}
    assert http.post("/c", headers=over).status_code == 400
    assert (
        http.post(
            "", headers={k.replace("Container", "Account"): v for k, v in over.items()}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Delete-At", "soon"),
        ("X-Delete-At", "1.5"),
        ("X-Delete-At", "-5"),
        ("X-Delete-At", "1"),  # in the past
        ("X-Delete-After", "-1"),
        ("X-Delete-After", "ten"),
    ],
)
def test_bad_expiry(swift: SwiftCluster, http: httpx.Client, header: str, value: str) -> None:
    head = put_head("/c/victim", "Content-Length: 1", f"{header}: {value}")
    assert send(swift, head, b"x").status == 400
    assert_nothing_stored(swift, http, "victim")
    assert http.post("/c/digits", headers={header: value}).status_code == 400


def test_far_future_expiry_is_capped(http: httpx.Client) -> None:
    assert http.put("/c/far", content=b"x", headers={"X-Delete-After": "9" * 20}).status_code == 201
    assert http.head("/c/far").headers["x-delete-at"] == "9999999999"
    assert http.delete("/c/far").status_code == 204


# ---- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "9" * 30])
def test_malformed_content_length(swift: SwiftCluster, http: httpx.Client, length: str) -> None:
    assert send(swift, put_head("/c/victim", f"Content-Length: {length}"), b"x").status == 400
    assert_nothing_stored(swift, http, "victim")


def test_length_and_chunked_together(swift: SwiftCluster, http: httpx.Client) -> None:
    head = put_head("/c/victim", "Content-Length: 3", "Transfer-Encoding: chunked")
    assert send(swift, head, b"0\r\n\r\n").status == 400
    assert_nothing_stored(swift, http, "victim")


def test_truncated_body_then_close(swift: SwiftCluster, http: httpx.Client) -> None:
    """The client stops sending and closes its side: Swift's 499 if it can still be told."""
    with socket.create_connection(("127.0.0.1", swift.proxy_port), timeout=30) as sock:
        head = put_head("/c/victim", "Content-Length: 100", "Host: x") + b"\r\n\r\n"
        sock.sendall(head + b"x" * 10)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer == b"" or answer.startswith(b"HTTP/1.1 499 "), answer[:100]
    assert_nothing_stored(swift, http, "victim")


def test_truncated_chunked_body_then_close(swift: SwiftCluster, http: httpx.Client) -> None:
    with socket.create_connection(("127.0.0.1", swift.proxy_port), timeout=30) as sock:
        head = put_head("/c/victim", "Transfer-Encoding: chunked", "Host: x") + b"\r\n\r\n"
        sock.sendall(head + b"5\r\nhello\r\n5\r\nwor")
    assert_nothing_stored(swift, http, "victim")


def test_stalled_body_times_out_with_408(swift: SwiftCluster, http: httpx.Client) -> None:
    head = put_head("/c/victim", "Content-Length: 100")
    started = time.monotonic()
    got = send(swift, head, b"x" * 10)  # and then nothing more
    assert got.status == 408
    assert time.monotonic() - started >= CLIENT_TIMEOUT
    assert_nothing_stored(swift, http, "victim")


def test_body_on_get_is_ignored(swift: SwiftCluster) -> None:
    with socket.create_connection(("127.0.0.1", swift.proxy_port), timeout=30) as sock:
        request = f"GET {ACCOUNT}/c/digits HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        sock.sendall(request.encode() * 2)  # the same connection stays usable
        for _ in range(2):
            response = HTTPResponse(sock, method="GET")
            response.begin()
            assert (response.status, response.read()) == (200, b"0123456789")


# ---- methods, ranges, copies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"PROPFIND /v1/AUTH_test/c/digits HTTP/1.1", 405),
        (b"MKCOL /v1/AUTH_test HTTP/1.1", 405),
        (b"PATCH /v1/AUTH_test/c/digits HTTP/1.1\r\nContent-Length: 0", 405),
        # a token the HTTP parser does not know never reaches the proxy
        (b"FROB /v1/AUTH_test/c/digits HTTP/1.1", 400),
    ],
)
def test_unknown_methods(swift: SwiftCluster, head: bytes, status: int) -> None:
    assert send(swift, head).status == status


@pytest.mark.parametrize("value", ["bytes=abc", "bytes=5-1", "bytes=-", "items=0-1", "bytes=1"])
def test_malformed_ranges_get_the_whole_object(http: httpx.Client, value: str) -> None:
    got = http.get("/c/digits", headers={"Range": value})
    assert (got.status_code, got.content) == (200, b"0123456789")


def test_ranges_past_any_size(http: httpx.Client) -> None:
    huge = "9" * 30
    assert http.get("/c/digits", headers={"Range": f"bytes={huge}-"}).status_code == 416
    got = http.get("/c/digits", headers={"Range": f"bytes=8-{huge}"})
    assert (got.status_code, got.content) == (206, b"89")


def test_bad_copy_sources_and_destinations(swift: SwiftCluster, http: httpx.Client) -> None:
    assert http.put("/c/victim", headers={"X-Copy-From": "c/%FF"}).status_code == 412
    copy = http.request("COPY", "/c/digits", headers={"Destination": "c/a%00b"})
    assert copy.status_code == 412
    assert http.put("/c/victim", headers={"X-Copy-From": "c/none"}).status_code == 404
    assert_nothing_stored(swift, http, "victim")


def test_never_a_500(swift: SwiftCluster, http: httpx.Client) -> None:
    """A sweep of odd but well-formed requests: every answer is a deliberate one."""
    odd: list[Callable[[], httpx.Response]] = [
        lambda: http.get("/c", params={"delimiter": "ab"}),
        lambda: http.get("/c", params={"limit": "-1"}),
        lambda: http.get("/c", params={"marker": "\x00"}),
        lambda: http.get("/c/digits", headers={"If-Modified-Since": "\x01"}),
        lambda: http.get("/c/digits", headers={"If-Match": ",,,"}),
        lambda: http.post("/c", headers={"X-Versions-Location": "%FF"}),
        lambda: http.post("/c", headers={"X-Container-Meta-Quota-Bytes": "-1"}),
        lambda: http.put("/c/victim", content=b"x", headers={"If-None-Match": "abc"}),
        lambda: http.request("COPY", "/c/digits", headers={"Destination": "/"}),
        lambda: http.put("/c/victim", content=b"x", headers={"ETag": "e" * 1000}),
    ]
    statuses = [call().status_code for call in odd]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert_nothing_stored(swift, http, "victim")

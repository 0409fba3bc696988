"""Conditional requests and multi-range GETs through the real proxy and object servers."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message
from email.parser import BytesParser
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from starlette.types import Scope
from swiftclient import client as sc
from swiftcluster import SwiftCluster, swift_cluster

from stratus.objectstore.proxy.subrequest import subrequest

TOKEN = "unused-with-noauth"
DIGITS = b"0123456789"


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    root: Path = tmp_path_factory.mktemp("reads") / "cluster"
    with swift_cluster(root) as c:
        with httpx.Client(base_url=c.storage_url(), timeout=60) as http:
            assert http.put("/c").status_code == 201
            assert http.put(
                "/c/digits", content=DIGITS, headers={"Content-Type": "text/x"}
            ).is_success
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def etag_and_date(http: httpx.Client) -> tuple[str, str]:
    head = http.head("/c/digits")
    return head.headers["etag"], head.headers["last-modified"]


# ---- conditional requests -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_is_304_quoted_or_not(http: httpx.Client, method: str) -> None:
    etag, _ = etag_and_date(http)
    for value in (etag, f'"{etag}"', f'"other", "{etag}"', "*"):
        got = http.request(method, "/c/digits", headers={"If-None-Match": value})
        assert got.status_code == 304, value
        assert got.content == b""
        assert got.headers["etag"] == etag
    assert http.request(method, "/c/digits", headers={"If-None-Match": "x"}).status_code == 200


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_match_is_412_unless_it_matches(http: httpx.Client, method: str) -> None:
    etag, _ = etag_and_date(http)
    refused = http.request(method, "/c/digits", headers={"If-Match": '"nope"'})
    assert refused.status_code == 412
    assert refused.headers["etag"] == etag
    for value in (etag, f'"{etag}"', "*"):
        assert http.request(method, "/c/digits", headers={"If-Match": value}).status_code == 200
    # no object: If-Match: * cannot hold, anything else is just missing
    assert http.request(method, "/c/nothing", headers={"If-Match": "*"}).status_code == 412
    assert http.request(method, "/c/nothing", headers={"If-Match": "x"}).status_code == 404


def test_dates(http: httpx.Client) -> None:
    _, modified = etag_and_date(http)
    past = formatdate(0, usegmt=True)
    future = formatdate(4_000_000_000, usegmt=True)
    assert http.get("/c/digits", headers={"If-Modified-Since": modified}).status_code == 304
    assert http.get("/c/digits", headers={"If-Modified-Since": past}).status_code == 200
    assert http.get("/c/digits", headers={"If-Modified-Since": "soon"}).status_code == 200
    assert http.get("/c/digits", headers={"If-Unmodified-Since": past}).status_code == 412
    assert http.get("/c/digits", headers={"If-Unmodified-Since": future}).status_code == 200
    assert http.get("/c/digits", headers={"If-Unmodified-Since": modified}).content == DIGITS


def test_conditions_come_before_ranges(http: httpx.Client) -> None:
    etag, _ = etag_and_date(http)
    both = {"If-None-Match": etag, "Range": "bytes=0-1"}
    assert http.get("/c/digits", headers=both).status_code == 304
    ranged = http.get("/c/digits", headers={"If-Match": etag, "Range": "bytes=0-1"})
    assert (ranged.status_code, ranged.content) == (206, b"01")


def test_python_swiftclient_sees_304(swift: SwiftCluster, http: httpx.Client) -> None:
    etag, _ = etag_and_date(http)
    url = swift.storage_url()
    _, body = sc.get_object(url, TOKEN, "c", "digits", headers={"If-Match": etag})
    assert body == DIGITS
    with pytest.raises(sc.ClientException) as info:
        sc.get_object(url, TOKEN, "c", "digits", headers={"If-Match": "other"})
    assert info.value.http_status == 412


def test_put_if_none_match_star(swift: SwiftCluster, http: httpx.Client) -> None:
    once = {"If-None-Match": "*"}
    assert http.put("/c/once", content=b"first", headers=once).status_code == 201
    assert http.put("/c/once", content=b"second", headers=once).status_code == 412
    assert http.get("/c/once").content == b"first"
    assert http.put("/c/once", content=b"x", headers={"If-None-Match": "abc"}).status_code == 400
    with pytest.raises(sc.ClientException) as info:
        sc.put_object(swift.storage_url(), TOKEN, "c", "once", b"third", headers=once)
    assert info.value.http_status == 412


def test_conditions_hold_with_a_replica_down(swift: SwiftCluster, http: httpx.Client) -> None:
    """A 304 or 412 from the first replica is the answer, not a failure to route around."""
    assert http.put("/c/moving", content=b"v1").status_code == 201
    etag = http.head("/c/moving").headers["etag"]
    first = swift.primaries("object", "AUTH_test", "c", "moving")[0]
    swift.stop("object", first)
    try:
        assert http.get("/c/moving", headers={"If-None-Match": etag}).status_code == 304
        assert http.get("/c/moving", headers={"If-Match": "x"}).status_code == 412
    finally:
        swift.start("object", first)


# ---- ranges -------------------------------------------------------------------------------


def parts_of(response: httpx.Response) -> list[Message]:
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges;boundary=")
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + response.content
    message = BytesParser().parsebytes(raw)
    assert message.is_multipart()
    return list(message.get_payload())  # type: ignore[arg-type]


def test_multi_range_is_multipart(http: httpx.Client) -> None:
    got = http.get("/c/digits", headers={"Range": "bytes=0-1,5-9,-3"})
    assert got.status_code == 206
    assert int(got.headers["content-length"]) == len(got.content)
    parts = parts_of(got)
    assert [p["Content-Range"] for p in parts] == [
        "bytes 0-1/10",
        "bytes 5-9/10",
        "bytes 7-9/10",
    ]
    assert [p["Content-Type"] for p in parts] == ["text/x"] * 3
    assert [p.get_payload(decode=True) for p in parts] == [b"01", b"56789", b"789"]


def test_ranges_trimmed_dropped_and_refused(http: httpx.Client) -> None:
    one_left = http.get("/c/digits", headers={"Range": "bytes=50-60,8-20"})
    assert (one_left.status_code, one_left.content) == (206, b"89")
    assert one_left.headers["content-range"] == "bytes 8-9/10"
    nothing = http.get("/c/digits", headers={"Range": "bytes=50-60,70-"})
    assert nothing.status_code == 416
    assert nothing.headers["content-range"] == "bytes */10"
    overlapping = http.get("/c/digits", headers={"Range": "bytes=0-5,1-6,2-7"})
    assert overlapping.status_code == 416
    malformed = http.get("/c/digits", headers={"Range": "bytes=5-3,0-1"})
    assert (malformed.status_code, malformed.content) == (200, DIGITS)


def test_single_range_unchanged(http: httpx.Client) -> None:
    got = http.get("/c/digits", headers={"Range": "bytes=2-5"})
    assert (got.status_code, got.content, got.headers["content-range"]) == (
        206,
        b"2345",
        "bytes 2-5/10",
    )
    assert http.head("/c/digits", headers={"Range": "bytes=2-5"}).status_code == 200


def test_etag_is_at_hook_for_middleware(swift: SwiftCluster) -> None:
    """A middleware that stores the client's ETag in sysmeta (SLO, encryption) has
    conditions compared against it by naming it in ``X-Backend-Etag-Is-At``."""
    assert swift.proxy is not None
    app = swift.proxy.app
    parent: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    path = "/v1/AUTH_test/c/wrapped"
    where = {"X-Backend-Etag-Is-At": "X-Object-Sysmeta-Test-Etag"}

    async def send(method: str, headers: dict[str, str], body: bytes = b"") -> int:
        sub = await subrequest(app, parent, method, path, source="t", headers=headers, body=body)
        async with sub:
            return sub.status

    async def run() -> tuple[int, int, int]:
        stored = {"X-Object-Sysmeta-Test-Etag": "client-etag", "Content-Length": "4"}
        assert await send("PUT", stored, b"data") == 201
        return (
            await send("GET", {"If-None-Match": "client-etag", **where}),
            await send("GET", {"If-Match": "client-etag", **where}),
            await send("GET", {"If-Match": "client-etag"}),  # against the stored MD5
        )

    assert swift.run(run()) == (304, 200, 412)

"""The proxy's pure rules: who may reach an account, quorum arithmetic, error limiting,
constraints and listing formats."""

from __future__ import annotations

import json

import httpx
import pytest

from stratus.common.errors import InvalidInput
from stratus.objectstore.proxy import listings
from stratus.objectstore.proxy.auth import Caller, may_access
from stratus.objectstore.proxy.backend import Reply
from stratus.objectstore.proxy.errors import LengthRequired, QuorumLost, TooLarge
from stratus.objectstore.proxy.limits import Constraints
from stratus.objectstore.proxy.placement import ErrorLimiter, best_status, quorum
from stratus.objectstore.proxy.request import split_path
from stratus.objectstore.proxy.upload import agreed_etag
from stratus.objectstore.ring.devices import Device


def test_access_rule() -> None:
    member = Caller("p1", frozenset({"member"}))
    assert may_access(member, "AUTH_p1")
    assert not may_access(member, "AUTH_p2")
    assert not may_access(Caller("", frozenset()), "AUTH_")
    assert may_access(Caller("p1", frozenset({"admin"}), is_admin=True), "AUTH_p2")


def test_quorum_and_best_status() -> None:
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert best_status([201, 201, 0], 2) == 201
    assert best_status([204, 404, 404], 2) == 404
    assert best_status([409, 409, 204], 2) == 409
    assert best_status([201, 0, 503], 2) is None


def test_error_limiter_forgets_after_suppression() -> None:
    now = [0.0]
    limiter = ErrorLimiter(threshold=2, suppression=10, clock=lambda: now[0])
    dev = Device(0, 1, 1, "127.0.0.1", 6000, "d0", 1.0)
    for _ in range(3):
        limiter.record(dev)
    assert limiter.limited(dev)
    now[0] = 11
    assert not limiter.limited(dev)
    limiter.record(dev, fatal=True)
    assert limiter.limited(dev)


def test_constraints() -> None:
    limits = Constraints()
    with pytest.raises(LengthRequired):
        limits.body_length({})
    assert limits.body_length({"transfer-encoding": "chunked"}) is None
    with pytest.raises(TooLarge):
        limits.body_length({"content-length": str(5 * 1024**3 + 1)})
    with pytest.raises(InvalidInput):
        limits.body_length({"content-length": "-1"})
    limits.check_metadata({"x-object-meta-a": "b" * 256}, "object")
    with pytest.raises(InvalidInput):
        limits.check_metadata({"x-object-meta-a": "b" * 257}, "object")
    with pytest.raises(InvalidInput):
        limits.check_names("AUTH_a", "c", "o" * 1025)


def test_split_path() -> None:
    assert split_path("/v1/AUTH_a") == ("AUTH_a", None, None)
    assert split_path("/v1/AUTH_a/c/") == ("AUTH_a", "c", None)
    assert split_path("/v1/AUTH_a/c/d/e/") == ("AUTH_a", "c", "d/e/")
    for bad in ("/v1/", "/v1//c", "/v1/a//o", "/v2/a"):
        with pytest.raises(InvalidInput):
            split_path(bad)


def test_listing_formats() -> None:
    entries = [{"name": "a&b", "hash": "h", "bytes": 1}, {"subdir": "d/"}]
    assert listings.choose_format({}, "application/json") == "json"
    assert listings.choose_format({"format": "xml"}, "application/json") == "xml"
    assert listings.render(entries, "plain", root="container", name="c") == b"a&b\nd/\n"
    assert json.loads(listings.render(entries, "json", root="container", name="c")) == entries
    xml = listings.render(entries, "xml", root="container", name="c<")
    assert b'name="c&lt;"' in xml and b"<name>a&amp;b</name>" in xml
    assert listings.render([], "plain", root="container", name="c") == b""


def test_the_etag_of_an_upload_is_the_one_the_replicas_agree_on() -> None:
    def reply(status: int, etag: str) -> Reply:
        return Reply(status, httpx.Headers({"etag": etag}))

    same = [reply(201, '"ABC"'), reply(201, "abc"), reply(0, ""), reply(503, "zzz")]
    assert agreed_etag(same) == "abc"  # quotes and case aside; failures do not count
    assert agreed_etag([reply(503, "")]) == ""
    with pytest.raises(QuorumLost):
        agreed_etag([reply(201, "abc"), reply(201, "abd")])

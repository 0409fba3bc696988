"""Pure rules of the proxy's access features: ACL parsing and matching, the info cache,
TempURL and FormPOST signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from stratus.common.errors import InvalidInput
from stratus.objectstore.middleware.signatures import Signature, owner_of
from stratus.objectstore.middleware.tempurl import parse_expires
from stratus.objectstore.proxy.acl import check_acl, grants, names_for, parse_acl
from stratus.objectstore.proxy.auth import Caller
from stratus.objectstore.proxy.info_cache import Info, InfoCache


def test_acl_parsing_keeps_referrers_in_order() -> None:
    acl = parse_acl(" .r:*, .ref:-bad.example ,p1:u1, .rlistings,, admin")
    assert acl.referrers == ("*", "-bad.example")
    assert acl.groups == frozenset({"p1:u1", ".rlistings", "admin"})


@pytest.mark.parametrize(
    ("rules", "referrer", "allowed"),
    [
        (".r:*", "", True),
        (".r:*,.r:-bad.example", "http://bad.example/x", False),
        (".r:*,.r:-bad.example", "http://good.example/x", True),
        (".r:.example.com", "https://www.example.com/", True),
        (".r:.example.com", "https://example.org/", False),
        (".r:host.example", "http://host.example:8080/p", True),
        (".r:-*", "http://a/", False),
        ("p1:*", "http://a/", False),
    ],
)
def test_referrer_rules(rules: str, referrer: str, allowed: bool) -> None:
    assert parse_acl(rules).allows_referrer(referrer) is allowed


def test_invalid_acls() -> None:
    with pytest.raises(InvalidInput):
        check_acl("x-container-write", ".r:*")
    with pytest.raises(InvalidInput):
        check_acl("x-container-write", ".rlistings")
    with pytest.raises(InvalidInput):
        check_acl("x-container-read", ".r:")
    with pytest.raises(InvalidInput):
        check_acl("x-container-read", ".bogus")
    check_acl("x-container-read", ".r:*,.rlistings,p:u, *:*")


def test_acl_entries_that_name_a_caller() -> None:
    caller = Caller("p1", frozenset({"member"}), user_id="u1", user_name="ann", project_name="dev")
    names = names_for(caller)
    assert {"p1:u1", "p1:*", "*:u1", "*:*", "dev:ann", "dev:*", "*:ann"} <= names
    assert names_for(Caller("")) == set()  # anonymous: named by nothing
    assert grants(caller, parse_acl("dev:ann"), "AUTH_other")
    assert not grants(caller, parse_acl("p2:*"), "AUTH_other")
    # a role name grants only within the caller's own project
    assert grants(caller, parse_acl("member"), "AUTH_p1")
    assert not grants(caller, parse_acl("member"), "AUTH_other")


def test_reader_only_members_are_read_only() -> None:
    assert Caller("p", frozenset({"reader"})).is_read_only
    assert not Caller("p", frozenset({"reader", "member"})).is_read_only
    assert not Caller("p").is_read_only


def test_info_cache_expires_forgets_and_stays_bounded() -> None:
    now = [0.0]
    cache = InfoCache(5, max_entries=2, clock=lambda: now[0])
    cache.put(("a", "c"), Info(204, {"x-container-read": ".r:*"}))
    cache.put(("a", "gone"), Info(404))
    cache.put(("a", "broken"), Info(503))  # could not tell: not kept
    assert cache.get(("a", "c")) is not None and cache.get(("a", "broken")) is None
    cache.forget("a", "c")
    assert cache.get(("a", "c")) is None
    cache.put(("a", "c"), Info(204))
    cache.put(("a", "d"), Info(204))  # over the bound: the oldest goes
    assert cache.get(("a", "gone")) is None
    now[0] = 6
    assert cache.get(("a", "d")) is None


def test_signatures_in_every_form() -> None:
    mac = hmac.new(b"k", b"msg", hashlib.sha256).digest()
    for text in (mac.hex(), "sha256:" + base64.urlsafe_b64encode(mac).decode().rstrip("=")):
        sig = Signature.parse(text)
        assert sig is not None and sig.digest == "sha256"
        assert sig.made_by([b"other", b"k"], "msg")
        assert not sig.made_by([b"other"], "msg")
    assert Signature.parse("md5:" + base64.b64encode(b"x" * 16).decode()) is None
    assert Signature.parse("sha1:" + base64.b64encode(b"short").decode()) is None
    assert Signature.parse("nothex" * 10) is None


def test_expiry_forms_and_owners() -> None:
    assert parse_expires("1700000000") == 1700000000
    assert parse_expires("2023-11-14T22:13:20Z") == 1700000000
    assert parse_expires("2023-11-14") is None
    assert owner_of("AUTH_p1") == Caller("p1")
    assert owner_of("other") is None

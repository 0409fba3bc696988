"""CORS with raw HTTP preflights and actual requests to the proxy of ``swiftcluster``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from swiftcluster import SwiftCluster, swift_cluster

ACCOUNT = "/v1/AUTH_test"
GOOD = "https://good.example"


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path_factory.mktemp("cors") / "cluster") as c:
        yield c


@pytest.fixture(scope="module")
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.url, timeout=60) as client:
        rules = {
            "X-Container-Meta-Access-Control-Allow-Origin": f"{GOOD} https://other.example",
            "X-Container-Meta-Access-Control-Max-Age": "600",
            "X-Container-Meta-Access-Control-Expose-Headers": "X-Custom",
        }
        assert client.put(f"{ACCOUNT}/web", headers=rules).status_code == 201
        meta = {"X-Object-Meta-Color": "blue"}
        assert client.put(f"{ACCOUNT}/web/page", content=b"hi", headers=meta).status_code == 201
        open_to_all = {"X-Container-Meta-Access-Control-Allow-Origin": "*"}
        assert client.put(f"{ACCOUNT}/open", headers=open_to_all).status_code == 201
        assert client.put(f"{ACCOUNT}/open/o", content=b"o").status_code == 201
        assert client.put(f"{ACCOUNT}/plain").status_code == 201
        yield client


def preflight(http: httpx.Client, path: str, origin: str, method: str = "GET") -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "X-Auth-Token, content-type",
    }
    return http.options(path, headers=headers)


def test_preflight_for_an_allowed_origin(http: httpx.Client) -> None:
    answer = preflight(http, f"{ACCOUNT}/web/page", GOOD, "PUT")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == GOOD
    assert "PUT" in answer.headers["access-control-allow-methods"]
    assert answer.headers["access-control-allow-headers"] == "content-type, x-auth-token"
    assert answer.headers["access-control-max-age"] == "600"
    assert "Origin" in answer.headers.get_list("vary")


def test_preflight_refusals(http: httpx.Client) -> None:
    assert preflight(http, f"{ACCOUNT}/web/page", "https://evil.example").status_code == 401
    assert preflight(http, f"{ACCOUNT}/web/page", GOOD, "PATCH").status_code == 401
    assert preflight(http, f"{ACCOUNT}/plain/x", GOOD).status_code == 401
    assert preflight(http, f"{ACCOUNT}/missing/x", GOOD).status_code == 401
    assert preflight(http, ACCOUNT, GOOD).status_code == 401  # no account-wide origins set
    plain = http.options(f"{ACCOUNT}/web/page")  # not CORS: the usual Allow
    assert plain.status_code == 200 and "GET" in plain.headers["allow"]


def test_actual_requests_expose_headers_to_allowed_origins(http: httpx.Client) -> None:
    got = http.get(f"{ACCOUNT}/web/page", headers={"Origin": GOOD})
    assert got.status_code == 200
    assert got.headers["access-control-allow-origin"] == GOOD
    exposed = set(got.headers["access-control-expose-headers"].split(", "))
    assert {"etag", "x-trans-id", "content-type", "x-object-meta-color", "x-custom"} <= exposed
    listing = http.get(f"{ACCOUNT}/web", headers={"Origin": GOOD})
    assert listing.headers["access-control-allow-origin"] == GOOD
    # strict mode: another origin's page gets nothing that would let it read the answer
    other = http.get(f"{ACCOUNT}/web/page", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in http.get(f"{ACCOUNT}/web/page").headers


def test_a_container_open_to_every_origin(http: httpx.Client) -> None:
    answer = preflight(http, f"{ACCOUNT}/open/o", "https://any.example")
    assert answer.headers["access-control-allow-origin"] == "*"
    got = http.get(f"{ACCOUNT}/open/o", headers={"Origin": "https://any.example"})
    assert got.headers["access-control-allow-origin"] == "*"


def test_operator_origins_and_lenient_mode(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = {"cors_allow_origin": (GOOD,), "strict_cors_mode": False}
    with (
        swift_cluster(tmp_path_factory.mktemp("cors2") / "cluster", **config) as swift,
        httpx.Client(base_url=swift.url, timeout=60) as http,
    ):
        assert http.put(f"{ACCOUNT}/c").status_code == 201
        assert preflight(http, f"{ACCOUNT}/c", GOOD).status_code == 200
        assert preflight(http, f"{ACCOUNT}/c", "https://evil.example").status_code == 401
        lenient = http.head(f"{ACCOUNT}/c", headers={"Origin": "https://evil.example"})
        assert lenient.headers["access-control-allow-origin"] == "https://evil.example"
        assert http.get("/info").json()["cors"] == {"strict_cors_mode": False}

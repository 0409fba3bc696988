"""Container and account quotas through the real proxy (NoAuth: every caller is an
administrator, so who may set an account quota is covered under ``stratus up``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from swiftclient import client as sc
from swiftcluster import SwiftCluster, swift_cluster

TOKEN = "unused-with-noauth"


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    root: Path = tmp_path_factory.mktemp("quotas") / "cluster"
    with swift_cluster(root) as c:
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def wait_for(check: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def chunks(data: bytes, size: int = 4) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_container_bytes_quota(swift: SwiftCluster, http: httpx.Client) -> None:
    quota = {"X-Container-Meta-Quota-Bytes": "10"}
    assert http.put("/cq", headers=quota).status_code == 201
    assert http.put("/cq/a", content=b"123456").status_code == 201
    refused = http.put("/cq/b", content=b"12345")
    assert (refused.status_code, refused.text) == (413, "Upload exceeds quota.\n")
    assert http.put("/cq/b", content=b"1234").status_code == 201  # exactly full
    # a chunked upload is stopped once it outgrows the room (none left here)
    assert http.put("/cq/c", content=chunks(b"x" * 64)).status_code == 413
    assert [o["name"] for o in sc.get_container(swift.storage_url(), TOKEN, "cq")[1]] == ["a", "b"]
    # raising the quota lets a chunked upload in, stopping it only when it passes it
    assert http.post("/cq", headers={"X-Container-Meta-Quota-Bytes": "20"}).status_code == 204
    assert http.put("/cq/c", content=chunks(b"y" * 10)).status_code == 201
    assert http.put("/cq/d", content=chunks(b"z" * 8)).status_code == 413
    assert http.head("/cq/d").status_code == 404
    assert swift.tmp_files() == []


def test_container_count_quota_and_copies(http: httpx.Client) -> None:
    assert http.put("/cc", headers={"X-Container-Meta-Quota-Count": "2"}).status_code == 201
    assert http.put("/cc/a", content=b"1").status_code == 201
    assert http.request("COPY", "/cc/a", headers={"Destination": "cc/b"}).status_code == 201
    assert http.put("/cc/c", content=b"1").status_code == 413
    assert http.put("/cc/c", headers={"X-Copy-From": "cc/a"}).status_code == 413
    # copies count their source's size against a bytes quota
    assert http.put("/big", headers={"X-Container-Meta-Quota-Bytes": "5"}).status_code == 201
    assert http.put("/cc2", content=b"").status_code == 201
    assert http.put("/cc2/src", content=b"0123456789").status_code == 201
    assert http.put("/big/x", headers={"X-Copy-From": "cc2/src"}).status_code == 413
    copy = http.request("COPY", "/cc2/src", headers={"Destination": "big/x"})
    assert copy.status_code == 413
    assert http.head("/big/x").status_code == 404


def test_quota_values_must_be_numbers(http: httpx.Client) -> None:
    bad = http.put("/cbad", headers={"X-Container-Meta-Quota-Bytes": "lots"})
    assert (bad.status_code, bad.text) == (400, "Invalid bytes quota.\n")
    assert http.put("/cbad", headers={"X-Container-Meta-Quota-Count": "-1"}).status_code == 400
    assert http.get("/cbad").status_code == 404
    assert http.post("", headers={"X-Account-Meta-Quota-Bytes": "x"}).status_code == 400


def test_account_bytes_quota(swift: SwiftCluster) -> None:
    with httpx.Client(base_url=swift.storage_url("AUTH_quota"), timeout=60) as http:
        assert http.put("/c").status_code == 201
        assert http.put("/c/a", content=b"x" * 100).status_code == 201
        wait_for(lambda: http.head("").headers.get("x-account-bytes-used") == "100")
        assert http.post("", headers={"X-Account-Meta-Quota-Bytes": "150"}).status_code == 204
        assert http.head("").headers["x-account-meta-quota-bytes"] == "150"
        refused = http.put("/c/b", content=b"y" * 51)
        assert (refused.status_code, refused.text) == (413, "Upload exceeds quota.\n")
        assert http.put("/c/b", content=chunks(b"y" * 51, 10)).status_code == 413
        assert http.request("COPY", "/c/a", headers={"Destination": "c/b"}).status_code == 413
        assert http.put("/c/b", content=b"y" * 50).status_code == 201
        # deletes and metadata updates are always allowed
        assert http.post("/c/a", headers={"X-Object-Meta-K": "v"}).status_code == 202
        assert http.delete("/c/a").status_code == 204
        wait_for(lambda: http.head("").headers.get("x-account-bytes-used") == "50")
        assert http.put("/c/a", content=b"x" * 100).status_code == 201
        assert http.post("", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"}).status_code == 204
        assert "x-account-meta-quota-bytes" not in http.head("").headers


def test_info_announces_quotas(swift: SwiftCluster) -> None:
    info = httpx.get(swift.url + "/info").json()
    assert info["container_quotas"] == {}
    assert info["account_quotas"] == {}

"""FormPOST over real HTTP multipart uploads (httpx) to the proxy of ``swiftcluster``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from swiftcluster import SwiftCluster, swift_cluster

KEY = "form-key"
ACCOUNT = "/v1/AUTH_test"
PATH = f"{ACCOUNT}/uploads/in/"


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path_factory.mktemp("formpost") / "cluster") as c:
        yield c


@pytest.fixture(scope="module")
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.url, timeout=60) as client:
        assert client.post(ACCOUNT, headers={"X-Account-Meta-Temp-URL-Key": KEY}).is_success
        assert client.put(f"{ACCOUNT}/uploads").status_code == 201
        yield client


def form(
    *,
    redirect: str = "",
    max_size: int = 1 << 20,
    max_count: int = 5,
    expires: int | None = None,
    key: str = KEY,
    digest: str = "sha256",
    b64: bool = False,
) -> dict[str, str]:
    expires = expires if expires is not None else int(time.time()) + 600
    message = f"{PATH}\n{redirect}\n{max_size}\n{max_count}\n{expires}"
    mac = hmac.new(key.encode(), message.encode(), digest)
    signature = mac.hexdigest()
    if b64:
        signature = f"{digest}:{base64.b64encode(mac.digest()).decode()}"
    return {
        "redirect": redirect,
        "max_file_size": str(max_size),
        "max_file_count": str(max_count),
        "expires": str(expires),
        "signature": signature,
    }


def names(http: httpx.Client) -> list[str]:
    listed = http.get(f"{ACCOUNT}/uploads", params={"prefix": "in/"})
    return listed.text.split()


def test_files_become_objects_and_the_browser_is_redirected(http: httpx.Client) -> None:
    big = os.urandom(700_000)  # many network chunks: the parser streams across them
    files = [
        ("file1", ("a.txt", b"first", "text/plain")),
        ("file2", ("big.bin", big, "application/x-big")),
    ]
    sent = http.post(PATH, data=form(redirect="https://app.example/done?x=1"), files=files)
    assert sent.status_code == 303
    location = urlparse(sent.headers["location"])
    assert location.netloc == "app.example"
    assert parse_qs(location.query) == {"x": ["1"], "status": ["201"]}
    assert http.get(f"{PATH}a.txt").text == "first"
    got = http.get(f"{PATH}big.bin")
    assert hashlib.md5(got.content).digest() == hashlib.md5(big).digest()
    assert got.headers["content-type"] == "application/x-big"


def test_without_redirect_the_answer_is_the_status(http: httpx.Client) -> None:
    files = {"f": ("plain.txt", b"plain", "text/plain")}
    sent = http.post(PATH, data=form(digest="sha512", b64=True), files=files)
    assert sent.status_code == 201
    assert "in/plain.txt" in names(http)


def test_bad_or_expired_signatures_store_nothing(http: httpx.Client) -> None:
    files = {"f": ("nope.txt", b"x", "text/plain")}
    wrong = http.post(PATH, data=form(key="guess"), files=files)
    assert wrong.status_code == 401 and "invalid signature" in wrong.text
    expired = http.post(PATH, data=form(expires=int(time.time()) - 1), files=files)
    assert expired.status_code == 401 and "expired" in expired.text
    tampered = {**form(), "max_file_size": str(1 << 30)}
    assert http.post(PATH, data=tampered, files=files).status_code == 401
    redirected = http.post(PATH, data=form(redirect="http://r/", key="guess"), files=files)
    assert redirected.status_code == 303
    assert parse_qs(urlparse(redirected.headers["location"]).query)["status"] == ["401"]
    assert "in/nope.txt" not in names(http)


def test_a_file_over_max_file_size_is_not_stored(http: httpx.Client, swift: SwiftCluster) -> None:
    files = {"f": ("huge.bin", os.urandom(300_000), "application/octet-stream")}
    sent = http.post(PATH, data=form(max_size=100_000), files=files)
    assert sent.status_code == 400 and "max_file_size" in sent.text
    assert http.get(f"{PATH}huge.bin").status_code == 404
    assert "in/huge.bin" not in names(http)
    deadline = time.monotonic() + 30  # the abandoned replicas clean up their temp files
    while swift.tmp_files():
        assert time.monotonic() < deadline, swift.tmp_files()
        time.sleep(0.1)


def test_too_many_files(http: httpx.Client) -> None:
    files = [("f1", ("one.txt", b"1", "text/plain")), ("f2", ("two.txt", b"2", "text/plain"))]
    sent = http.post(PATH, data=form(max_count=1), files=files)
    assert sent.status_code == 400 and "max file count" in sent.text
    assert "in/two.txt" not in names(http)


def test_a_form_without_files(http: httpx.Client) -> None:
    sent = http.post(PATH, data=form(), files={"f": ("", b"", "application/octet-stream")})
    assert sent.status_code == 400


def test_info_announces_formpost(http: httpx.Client) -> None:
    assert "sha256" in http.get("/info").json()["formpost"]["allowed_digests"]

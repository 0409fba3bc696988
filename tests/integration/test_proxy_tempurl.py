"""TempURL against the NoAuth proxy of ``swiftcluster``: signatures built by hand (every
digest and encoding), prefixes, uploads, and what a link may not do.

The proxy trusts every caller in NoAuth, so each test sends the signed requests without
credentials and checks what TempURL itself decides (anonymous refusal is covered under
``stratus up`` in tests/functional/test_objectstore_tempurl.py).
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Iterator

import httpx
import pytest
from swiftcluster import SwiftCluster, swift_cluster

KEY = "secret-key"
ACCOUNT = "/v1/AUTH_test"


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path_factory.mktemp("tempurl") / "cluster") as c:
        yield c


@pytest.fixture(scope="module")
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.url, timeout=60) as client:
        assert client.post(ACCOUNT, headers={"X-Account-Meta-Temp-URL-Key": KEY}).is_success
        assert client.put(f"{ACCOUNT}/c").status_code == 201
        for name in ("o", "other", "docs/a.txt", "docs/b.txt"):
            headers = {"X-Object-Meta-Color": "red", "X-Object-Meta-Public-Tag": "t"}
            assert client.put(f"{ACCOUNT}/c/{name}", content=name, headers=headers).is_success
        yield client


def sign(
    method: str, path: str, expires: int | str, *, key: str = KEY, digest: str = "sha256"
) -> str:
    mac = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(), digest)
    return mac.hexdigest()


def b64_sign(method: str, path: str, expires: int, digest: str) -> str:
    mac = hmac.new(KEY.encode(), f"{method}\n{expires}\n{path}".encode(), digest).digest()
    return f"{digest}:{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def later() -> int:
    return int(time.time()) + 600


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
def test_every_digest_in_hex_and_base64(http: httpx.Client, digest: str) -> None:
    path, expires = f"{ACCOUNT}/c/o", later()
    for sig in (sign("GET", path, expires, digest=digest), b64_sign("GET", path, expires, digest)):
        got = http.get(path, params={"temp_url_sig": sig, "temp_url_expires": expires})
        assert got.status_code == 200, sig
        assert got.text == "o"


def test_iso8601_expiry_and_expired_links(http: httpx.Client) -> None:
    path = f"{ACCOUNT}/c/o"
    expires = later()  # signed as unix seconds, sent as ISO 8601 (as swift tempurl does)
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    query = {"temp_url_sig": sign("GET", path, expires), "temp_url_expires": iso}
    assert http.get(path, params=query).status_code == 200
    past = int(time.time()) - 1
    query = {"temp_url_sig": sign("GET", path, past), "temp_url_expires": past}
    assert http.get(path, params=query).status_code == 401


def test_a_link_opens_only_its_object_and_method(http: httpx.Client) -> None:
    path, expires = f"{ACCOUNT}/c/o", later()
    query = {"temp_url_sig": sign("GET", path, expires), "temp_url_expires": expires}
    assert http.get(f"{ACCOUNT}/c/other", params=query).status_code == 401
    assert http.delete(path, params=query).status_code == 401
    assert http.head(path, params=query).status_code == 200  # a GET link allows HEAD
    wrong = {**query, "temp_url_sig": sign("GET", path, expires, key="guess")}
    assert http.get(path, params=wrong).status_code == 401
    assert http.get(path, params={**query, "temp_url_expires": expires + 1}).status_code == 401
    assert http.get(path, params={**query, "temp_url_sig": "zz"}).status_code == 401


def test_prefix_links(http: httpx.Client) -> None:
    expires = later()
    sig = sign("GET", f"prefix:{ACCOUNT}/c/docs/", expires)
    query = {"temp_url_sig": sig, "temp_url_expires": expires, "temp_url_prefix": "docs/"}
    assert http.get(f"{ACCOUNT}/c/docs/a.txt", params=query).text == "docs/a.txt"
    assert http.get(f"{ACCOUNT}/c/docs/b.txt", params=query).status_code == 200
    assert http.get(f"{ACCOUNT}/c/o", params=query).status_code == 401


def test_downloads_are_attachments_and_private_metadata_stays_hidden(http: httpx.Client) -> None:
    path, expires = f"{ACCOUNT}/c/docs/a.txt", later()
    query = {"temp_url_sig": sign("GET", path, expires), "temp_url_expires": expires}
    got = http.get(path, params=query)
    assert got.headers["content-disposition"].startswith('attachment; filename="a.txt"')
    assert "x-object-meta-color" not in got.headers
    assert got.headers["x-object-meta-public-tag"] == "t"
    named = http.get(path, params={**query, "filename": "report é.txt"})
    assert named.headers["content-disposition"] == (
        "attachment; filename=\"report %C3%A9.txt\"; filename*=UTF-8''report%20%C3%A9.txt"
    )
    assert http.get(path, params={**query, "inline": ""}).headers["content-disposition"] == (
        "inline"
    )


def test_upload_through_a_put_link(http: httpx.Client) -> None:
    path, expires = f"{ACCOUNT}/c/uploaded", later()
    query = {"temp_url_sig": sign("PUT", path, expires), "temp_url_expires": expires}
    assert http.put(path, params=query, content=b"via link").status_code == 201
    assert http.get(path).text == "via link"
    manifest = {"X-Object-Manifest": "c/docs/"}
    assert http.put(path, params=query, content=b"", headers=manifest).status_code == 400
    copy = {"X-Copy-From": "c/other"}
    assert http.put(path, params=query, content=b"", headers=copy).status_code == 400
    assert http.get(path).text == "via link"


def test_container_keys_are_for_their_container(http: httpx.Client) -> None:
    assert http.put(f"{ACCOUNT}/d").status_code == 201
    headers = {"X-Container-Meta-Temp-URL-Key-2": "box-key"}
    assert http.post(f"{ACCOUNT}/d", headers=headers).status_code == 204
    assert http.put(f"{ACCOUNT}/d/x", content=b"x").status_code == 201
    expires = later()
    for path, status in ((f"{ACCOUNT}/d/x", 200), (f"{ACCOUNT}/c/o", 401)):
        sig = sign("GET", path, expires, key="box-key", digest="sha512")
        got = http.get(path, params={"temp_url_sig": sig, "temp_url_expires": expires})
        assert got.status_code == status, path


def test_info_announces_tempurl(http: httpx.Client) -> None:
    info = http.get("/info").json()["tempurl"]
    assert set(info["methods"]) == {"GET", "HEAD", "PUT", "POST", "DELETE"}
    assert set(info["allowed_digests"]) == {"sha1", "sha256", "sha512"}

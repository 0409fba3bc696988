"""The Swift proxy over real HTTP, in front of real object, container and account servers.

A 3-replica ring over four devices; the proxy runs with ``NoAuth`` (a real configuration:
a proxy without identity), driven by python-swiftclient with a pre-authenticated URL and
by raw httpx and sockets for what the client library will not send. Probe tests stop
storage servers mid-test and check what clients see and what is left on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
from swiftclient import client as sc
from swiftclient.exceptions import ClientException
from swiftcluster import HASHER, SwiftCluster, swift_cluster

MiB = 1 << 20
TOKEN = "unused-with-noauth"


@pytest.fixture
def swift(tmp_path: Path) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path / "cluster") as c:
        yield c


@pytest.fixture
def url(swift: SwiftCluster) -> str:
    return swift.storage_url()


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def status_of(call: object, *args: object, **kwargs: object) -> int:
    with pytest.raises(ClientException) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value.http_status  # type: ignore[no-any-return]


def raw_request(swift: SwiftCluster, head: str) -> tuple[int, bytes]:
    """Send a hand-written request head; the status line and whole answer."""
    with socket.create_connection(("127.0.0.1", swift.proxy_port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split()[1]), data


def wait_for(check: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# ---- basics -----------------------------------------------------------------------------


def test_info_and_healthcheck(swift: SwiftCluster) -> None:
    info = httpx.get(f"{swift.url}/info").json()
    assert info["swift"]["max_file_size"] == 5 * 1024**3
    assert info["swift"]["max_object_name_length"] == 1024
    assert httpx.get(f"{swift.url}/healthcheck").text == "OK"


def test_container_lifecycle(url: str) -> None:
    sc.put_container(url, TOKEN, "photos", headers={"X-Container-Meta-Owner": "me"})
    headers = sc.head_container(url, TOKEN, "photos")
    assert headers["x-container-meta-owner"] == "me"
    assert headers["x-container-object-count"] == "0"
    _, containers = sc.get_account(url, TOKEN)  # the account was created on the way
    assert [c["name"] for c in containers] == ["photos"]
    sc.put_object(url, TOKEN, "photos", "cat.jpg", b"meow")
    assert status_of(sc.delete_container, url, TOKEN, "photos") == 409
    sc.delete_object(url, TOKEN, "photos", "cat.jpg")
    sc.delete_container(url, TOKEN, "photos")
    assert status_of(sc.head_container, url, TOKEN, "photos") == 404
    assert status_of(sc.post_container, url, TOKEN, "photos", {"X-Container-Meta-A": "b"}) == 404


def test_object_put_get_head_post_delete(url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    etag = sc.put_object(
        url, TOKEN, "c", "dir/hello.txt", b"hello world", headers={"X-Object-Meta-Color": "blue"}
    )
    assert etag == hashlib.md5(b"hello world").hexdigest()
    headers, body = sc.get_object(url, TOKEN, "c", "dir/hello.txt")
    assert body == b"hello world"
    assert headers["content-type"] == "text/plain"  # guessed from the name
    assert headers["x-object-meta-color"] == "blue"
    assert headers["etag"] == etag
    sc.post_object(url, TOKEN, "c", "dir/hello.txt", {"X-Object-Meta-Size": "large"})
    headers = sc.head_object(url, TOKEN, "c", "dir/hello.txt")
    assert headers["x-object-meta-size"] == "large"
    assert "x-object-meta-color" not in headers  # POST replaces user metadata, as Swift
    assert headers["content-length"] == "11"
    stats = sc.head_container(url, TOKEN, "c")
    assert (stats["x-container-object-count"], stats["x-container-bytes-used"]) == ("1", "11")
    sc.delete_object(url, TOKEN, "c", "dir/hello.txt")
    assert status_of(sc.get_object, url, TOKEN, "c", "dir/hello.txt") == 404
    assert status_of(sc.delete_object, url, TOKEN, "c", "dir/hello.txt") == 404
    assert sc.get_container(url, TOKEN, "c")[1] == []


def test_utf8_names_and_metadata(url: str) -> None:
    sc.put_container(url, TOKEN, "données")
    sc.put_object(url, TOKEN, "données", "été/☃.txt", b"x", headers={"X-Object-Meta-Mot": "café"})
    headers, body = sc.get_object(url, TOKEN, "données", "été/☃.txt")
    assert body == b"x"
    assert headers["x-object-meta-mot"] == "café"
    assert [o["name"] for o in sc.get_container(url, TOKEN, "données")[1]] == ["été/☃.txt"]


def test_chunked_upload(url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    pieces = [os.urandom(100_000) for _ in range(7)]
    etag = sc.put_object(url, TOKEN, "c", "chunked", iter(pieces))  # no length: chunked
    whole = b"".join(pieces)
    assert etag == hashlib.md5(whole).hexdigest()
    assert sc.get_object(url, TOKEN, "c", "chunked")[1] == whole


class Blocks:
    """A 64 MiB file-like body made on the fly, so the test never holds it whole."""

    def __init__(self, count: int) -> None:
        self.block = os.urandom(MiB)
        self.left = count
        self.md5 = hashlib.md5()

    def read(self, size: int = -1) -> bytes:
        if not self.left:
            return b""
        self.left -= 1
        piece = self.block[self.left :] + self.block[: self.left]
        self.md5.update(piece)
        return piece


def test_64_mib_streamed_both_ways(url: str) -> None:
    sc.put_container(url, TOKEN, "big")
    body = Blocks(64)
    etag = sc.put_object(url, TOKEN, "big", "blob", body, content_length=64 * MiB, chunk_size=MiB)
    assert etag == body.md5.hexdigest()
    headers, chunks = sc.get_object(url, TOKEN, "big", "blob", resp_chunk_size=MiB)
    got = hashlib.md5()
    for chunk in chunks:
        got.update(chunk)
    assert got.hexdigest() == etag == headers["etag"]
    assert headers["content-length"] == str(64 * MiB)


# ---- listings ---------------------------------------------------------------------------

NAMES = ["a/1", "a/2", "a/b/3", "b/1", "c", "d"]


@pytest.fixture
def listed(url: str) -> str:
    sc.put_container(url, TOKEN, "list")
    for name in NAMES:
        sc.put_object(url, TOKEN, "list", name, name.encode(), content_type="text/x-test")
    return url


def names(url: str, **kwargs: object) -> list[str]:
    _, entries = sc.get_container(url, TOKEN, "list", **kwargs)  # type: ignore[arg-type]
    return [e.get("name", e.get("subdir")) for e in entries]


def test_listing_queries(listed: str) -> None:
    assert names(listed) == NAMES
    assert names(listed, prefix="a/") == ["a/1", "a/2", "a/b/3"]
    assert names(listed, delimiter="/") == ["a/", "b/", "c", "d"]
    assert names(listed, prefix="a/", delimiter="/") == ["a/1", "a/2", "a/b/"]
    assert names(listed, marker="a/2", limit=2) == ["a/b/3", "b/1"]
    assert names(listed, end_marker="b") == ["a/1", "a/2", "a/b/3"]
    assert names(listed, query_string="reverse=on") == list(reversed(NAMES))
    assert names(listed, path="a") == ["a/1", "a/2"]
    _, entries = sc.get_container(listed, TOKEN, "list", prefix="c")
    assert entries[0]["bytes"] == 1 and entries[0]["content_type"] == "text/x-test"
    assert entries[0]["hash"] == hashlib.md5(b"c").hexdigest()


def test_listing_formats(listed: str, http: httpx.Client) -> None:
    plain = http.get("/list", params={"delimiter": "/"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text == "a/\nb/\nc\nd\n"
    as_json = http.get("/list", headers={"Accept": "application/json"}, params={"limit": "1"})
    assert as_json.json()[0]["name"] == "a/1"
    xml = http.get("/list", params={"format": "xml", "prefix": "a/", "delimiter": "/"})
    assert xml.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "container" and root.get("name") == "list"
    assert [o.findtext("name") for o in root.findall("object")] == ["a/1", "a/2"]
    assert [s.get("name") for s in root.findall("subdir")] == ["a/b/"]
    empty = http.get("/list", params={"prefix": "zzz"})
    assert empty.status_code == 204 and empty.content == b""
    assert http.get("/list", params={"prefix": "zzz", "format": "json"}).json() == []
    account = http.get("", params={"format": "xml"})
    assert ET.fromstring(account.content).find("container/name").text == "list"  # type: ignore[union-attr]
    assert http.get("/list", params={"limit": "10001"}).status_code == 412
    assert http.get("/list", params={"limit": "x"}).status_code == 412


# ---- ranges, checksums, copies -----------------------------------------------------------


def test_range_get(url: str, http: httpx.Client) -> None:
    sc.put_container(url, TOKEN, "c")
    sc.put_object(url, TOKEN, "c", "digits", b"0123456789")
    r = http.get("/c/digits", headers={"Range": "bytes=2-5"})
    assert (r.status_code, r.content) == (206, b"2345")
    assert r.headers["content-range"] == "bytes 2-5/10"
    assert http.get("/c/digits", headers={"Range": "bytes=-3"}).content == b"789"
    assert http.get("/c/digits", headers={"Range": "bytes=20-30"}).status_code == 416


def test_etag_mismatch_is_422_and_stores_nothing(swift: SwiftCluster, url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    wrong = hashlib.md5(b"other").hexdigest()
    assert status_of(sc.put_object, url, TOKEN, "c", "o", b"data", etag=wrong) == 422
    chunked = iter([b"da", b"ta"])
    assert status_of(sc.put_object, url, TOKEN, "c", "o2", chunked, etag=wrong) == 422
    assert status_of(sc.head_object, url, TOKEN, "c", "o") == 404
    assert sc.get_container(url, TOKEN, "c")[1] == []
    assert swift.data_files() == []


def test_copy_and_copy_from(url: str) -> None:
    sc.put_container(url, TOKEN, "src")
    sc.put_container(url, TOKEN, "dst")
    sc.put_object(
        url,
        TOKEN,
        "src",
        "o",
        b"payload",
        content_type="text/x-a",
        headers={"X-Object-Meta-A": "1"},
    )
    sc.copy_object(url, TOKEN, "src", "o", "/dst/copied", headers={"X-Object-Meta-B": "2"})
    headers, body = sc.get_object(url, TOKEN, "dst", "copied")
    assert body == b"payload"
    assert (headers["x-object-meta-a"], headers["x-object-meta-b"]) == ("1", "2")
    assert headers["content-type"] == "text/x-a"
    response: dict[str, object] = {}
    sc.put_object(
        url,
        TOKEN,
        "dst",
        "from",
        None,
        headers={"X-Copy-From": "/src/o"},
        response_dict=response,
    )
    assert response["status"] == 201
    assert response["headers"]["x-copied-from"] == "src/o"  # type: ignore[index]
    assert sc.get_object(url, TOKEN, "dst", "from")[1] == b"payload"
    assert {o["name"] for o in sc.get_container(url, TOKEN, "dst")[1]} == {"copied", "from"}
    missing = {"X-Copy-From": "/src/nope"}
    assert status_of(sc.put_object, url, TOKEN, "dst", "x", None, headers=missing) == 404


# ---- failures -----------------------------------------------------------------------------


def test_one_object_server_down(swift: SwiftCluster, url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    first, second, _ = swift.primaries("object", "AUTH_test", "c", "o")
    swift.stop("object", first)
    try:
        sc.put_object(url, TOKEN, "c", "o", b"still here")
        assert sc.get_object(url, TOKEN, "c", "o")[1] == b"still here"
        swift.stop("object", second)  # the reader falls back past two dead primaries
        assert sc.get_object(url, TOKEN, "c", "o")[1] == b"still here"
    finally:
        swift.start("object", first)
        swift.start("object", second)
    assert len(swift.data_files()) == 3  # two primaries and the handoff that stood in


def test_object_server_dies_mid_put(swift: SwiftCluster, url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    victim = swift.primaries("object", "AUTH_test", "c", "o")[0]
    sent = hashlib.md5()

    def body() -> Iterator[bytes]:
        for i in range(20):
            if i == 5:  # the victim is writing its temp file: cut it off mid-body
                wait_for(lambda: list((swift.device(victim) / "tmp").glob("*")))
                swift.stop("object", victim)
            piece = os.urandom(64 * 1024)
            sent.update(piece)
            yield piece

    try:
        etag = sc.put_object(url, TOKEN, "c", "o", body())
    finally:
        swift.start("object", victim)
    assert etag == sent.hexdigest()
    _, data = sc.get_object(url, TOKEN, "c", "o")
    assert hashlib.md5(data).hexdigest() == etag
    assert len(swift.data_files()) == 2  # the dead node kept nothing of it


def test_client_gone_mid_upload_leaves_nothing(swift: SwiftCluster, url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    head = "PUT /v1/AUTH_test/c/o HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", swift.proxy_port), timeout=30) as sock:
        sock.sendall(head.encode() + b"x" * 300_000)
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while swift.tmp_files():
        assert time.monotonic() < deadline, "temp files left behind"
        time.sleep(0.05)
    assert swift.data_files() == []
    assert status_of(sc.head_object, url, TOKEN, "c", "o") == 404


def test_without_a_quorum_nothing_is_stored(swift: SwiftCluster, url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    down = swift.primaries("object", "AUTH_test", "c", "o")[:2]
    down.append(swift.handoffs("object", "AUTH_test", "c", "o")[0])
    for i in down:  # two primaries and the only handoff: one node left for three replicas
        swift.stop("object", i)
    try:
        assert status_of(sc.put_object, url, TOKEN, "c", "o", b"x" * 100_000) == 503
        chunked = iter([b"x"] * 10)
        assert status_of(sc.put_object, url, TOKEN, "c", "o", chunked) == 503
    finally:
        for i in down:
            swift.start("object", i)
    assert status_of(sc.head_object, url, TOKEN, "c", "o") == 404
    assert sc.get_container(url, TOKEN, "c")[1] == []
    assert swift.data_files() == []


def test_two_primaries_down_a_handoff_makes_the_quorum(swift: SwiftCluster, url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    down = swift.primaries("object", "AUTH_test", "c", "o")[:2]
    for i in down:
        swift.stop("object", i)
    try:
        sc.put_object(url, TOKEN, "c", "o", b"two copies")
        assert sc.get_object(url, TOKEN, "c", "o")[1] == b"two copies"
    finally:
        for i in down:
            swift.start("object", i)


def test_container_server_down_queues_async_pending(swift: SwiftCluster, url: str) -> None:
    sc.put_container(url, TOKEN, "c")
    node = swift.primaries("container", "AUTH_test", "c")[0]
    swift.stop("container", node)
    try:
        sc.put_object(url, TOKEN, "c", "o", b"abc")
    finally:
        swift.start("container", node)
    [pending] = swift.pending_files()
    record = json.loads(pending.read_bytes())
    assert (record["op"], record["account"], record["container"], record["obj"]) == (
        "PUT",
        "AUTH_test",
        "c",
        "o",
    )
    assert record["headers"]["X-Size"] == "3"
    name_hash = HASHER.hash_name("/AUTH_test/c/o")
    assert pending.parent == swift.device(0) / "async_pending" / name_hash[-3:]
    assert pending.name == f"{name_hash}-{record['headers']['X-Timestamp']}"
    assert sc.get_object(url, TOKEN, "c", "o")[1] == b"abc"


def replica_listings(
    swift: SwiftCluster, container: str, skip: int | None = None
) -> list[list[tuple[str, int]]]:
    """(name, bytes) of every row each container replica (but ``skip``) lists, asked of
    the container servers themselves."""
    ring = swift.rings["container"]
    part = ring.partition("AUTH_test", container)
    out = []
    for dev in ring.primaries(part):
        if dev.id == skip:
            continue
        resp = httpx.get(f"http://{dev.ip}:{dev.port}/{dev.device}/{part}/AUTH_test/{container}")
        assert resp.status_code == 200, resp.text
        out.append([(row["name"], row["bytes"]) for row in resp.json()])
    return out


def concurrently(calls: list[Callable[[], object]]) -> None:
    with ThreadPoolExecutor(max_workers=32) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


def test_concurrent_writes_reach_every_container_replica(swift: SwiftCluster, url: str) -> None:
    """Rows of concurrent writes travel together to each container replica; every replica
    ends with every row, and none was queued for later."""
    sc.put_container(url, TOKEN, "c")
    names = [f"obj-{i:03d}" for i in range(96)]
    concurrently([lambda n=n: sc.put_object(url, TOKEN, "c", n, n.encode()) for n in names])
    concurrently([lambda n=n: sc.delete_object(url, TOKEN, "c", n) for n in names[::2]])
    kept = [(n, len(n)) for n in names[1::2]]
    assert replica_listings(swift, "c") == [kept, kept, kept]
    assert sc.head_container(url, TOKEN, "c")["x-container-object-count"] == str(len(kept))
    assert swift.pending_files() == []


def test_container_replica_down_during_concurrent_writes(swift: SwiftCluster, url: str) -> None:
    """Each row the stopped replica missed is queued once; the others list everything."""
    sc.put_container(url, TOKEN, "c")
    node = swift.primaries("container", "AUTH_test", "c")[0]
    names = [f"obj-{i:02d}" for i in range(24)]
    swift.stop("container", node)
    try:
        concurrently([lambda n=n: sc.put_object(url, TOKEN, "c", n, b"abc") for n in names])
    finally:
        swift.start("container", node)
    queued = sorted(json.loads(p.read_bytes())["obj"] for p in swift.pending_files())
    assert queued == names
    assert replica_listings(swift, "c", skip=node) == [[(n, 3) for n in names]] * 2


# ---- bad input ----------------------------------------------------------------------------


def test_bad_names_and_metadata_are_400(url: str, http: httpx.Client) -> None:
    sc.put_container(url, TOKEN, "c")
    cases = {
        "long object name": http.put("/c/" + "o" * 1025, content=b"x"),
        "long container name": http.put("/" + "c" * 257),
        "long meta name": http.put(
            "/c/o", content=b"x", headers={"X-Object-Meta-" + "k" * 129: "v"}
        ),
        "long meta value": http.put("/c/o", content=b"x", headers={"X-Object-Meta-K": "v" * 257}),
        "many meta": http.put(
            "/c/o", content=b"x", headers={f"X-Object-Meta-K{i}": "v" for i in range(91)}
        ),
        "bad delete-after": http.put("/c/o", content=b"x", headers={"X-Delete-After": "soon"}),
        "container meta": http.post("/c", headers={"X-Container-Meta-" + "k" * 129: "v"}),
    }
    assert {k: r.status_code for k, r in cases.items()} == dict.fromkeys(cases, 400)
    # Swift's proxy answers 412 to paths it cannot route (test_proxy_bad_input.py has more)
    assert http.get("/c/%FF").status_code == 412
    assert http.get(str(http.base_url.copy_with(path="/v1/"))).status_code == 412
    assert http.get("/c").status_code == 204  # nothing was stored by any of it


def test_bad_requests_get_swift_statuses(swift: SwiftCluster, http: httpx.Client) -> None:
    http.put("/c")
    cases = {
        "COPY without Destination": (http.request("COPY", "/c/o"), 412),
        "bad X-Copy-From": (http.put("/c/o", headers={"X-Copy-From": "nonsense"}), 412),
        "other version": (http.get(swift.url + "/v2/AUTH_test"), 404),
        "object in missing container": (http.put("/nope/o", content=b"x"), 404),
        "missing container": (http.get("/nope"), 404),
        "account PUT": (http.put("", content=b""), 405),
        "unknown verb": (http.request("PATCH", "/c"), 405),
    }
    assert {k: r.status_code for k, (r, _) in cases.items()} == {
        k: status for k, (_, status) in cases.items()
    }
    head = "PUT /v1/AUTH_test/c/o HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain"
    assert raw_request(swift, head)[0] == 411
    big = f"PUT /v1/AUTH_test/c/o HTTP/1.1\r\nHost: x\r\nContent-Length: {6 * 1024**3}"
    assert raw_request(swift, big)[0] == 413
    assert http.get("/c").status_code == 204


def test_failing_node_is_error_limited(tmp_path: Path) -> None:
    with swift_cluster(tmp_path / "limited", error_limit=1) as swift:
        url = swift.storage_url()
        sc.put_container(url, TOKEN, "c")
        victim = swift.primaries("object", "AUTH_test", "c", "o")[0]
        dev = swift.rings["object"].devices[victim]
        swift.stop("object", victim)
        try:
            for _ in range(2):
                sc.put_object(url, TOKEN, "c", "o", b"x")
            assert swift.cluster is not None and swift.cluster.limiter.limited(dev)
            sc.put_object(url, TOKEN, "c", "o", b"y")  # skipped at once: still 201
        finally:
            swift.start("object", victim)
        assert sc.get_object(url, TOKEN, "c", "o")[1] == b"y"


def test_upload_longer_than_node_timeout_succeeds(tmp_path: Path) -> None:
    """``node_timeout`` bounds each wait for a storage node, not a whole upload: a body
    that takes several node timeouts to arrive, with every pause shorter than one, is
    stored (it used to be cut off after one node timeout and answered 503)."""
    with swift_cluster(tmp_path / "slow", node_timeout=0.5) as swift:
        url = swift.storage_url()
        sc.put_container(url, TOKEN, "c")
        sent = hashlib.md5()

        def body() -> Iterator[bytes]:
            for _ in range(8):  # about 1.6 s in all, 0.2 s between pieces
                time.sleep(0.2)
                piece = os.urandom(256 * 1024)
                sent.update(piece)
                yield piece

        etag = sc.put_object(url, TOKEN, "c", "slow", body())
        assert etag == sent.hexdigest()
        _, data = sc.get_object(url, TOKEN, "c", "slow")
        assert hashlib.md5(data).hexdigest() == etag
        assert len(swift.data_files()) == 3

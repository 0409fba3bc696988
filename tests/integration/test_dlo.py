"""Dynamic large objects over real HTTP: the NoAuth proxy of ``swiftcluster`` with its
whole middleware pipeline in front of real storage servers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest
from swiftcluster import SwiftCluster, swift_cluster


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path_factory.mktemp("dlo") / "cluster") as c:
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def md5(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


PARTS = [b"1" * 700, b"2" * 800, b"3" * 300]


def make_dlo(http: httpx.Client, container: str) -> None:
    assert http.put(f"/{container}").status_code == 201
    assert http.put(f"/{container}_segs").status_code == 201
    for i, part in reversed(list(enumerate(PARTS))):  # order comes from the names
        assert http.put(f"/{container}_segs/big/{i:04d}", content=part).status_code == 201
    assert http.put(f"/{container}_segs/other", content=b"not mine").status_code == 201
    manifest = {"X-Object-Manifest": f"{container}_segs/big/"}
    assert http.put(f"/{container}/big", content=b"", headers=manifest).status_code == 201


def test_manifest_reads_as_its_segments_in_name_order(http: httpx.Client) -> None:
    make_dlo(http, "d1")
    got = http.get("/d1/big")
    assert got.status_code == 200
    assert got.content == b"".join(PARTS)
    etag = md5("".join(md5(p) for p in PARTS))
    assert got.headers["etag"] == f'"{etag}"'
    assert got.headers["x-object-manifest"] == "d1_segs/big/"
    head = http.head("/d1/big")
    assert head.headers["content-length"] == "1800"
    assert head.headers["etag"] == f'"{etag}"'
    # a segment added later is part of the object
    assert http.put("/d1_segs/big/0003", content=b"4").status_code == 201
    assert http.get("/d1/big").content == b"".join(PARTS) + b"4"


def test_ranges_and_conditions(http: httpx.Client) -> None:
    make_dlo(http, "d2")
    whole = b"".join(PARTS)
    part = http.get("/d2/big", headers={"Range": "bytes=690-1510"})
    assert part.status_code == 206
    assert part.content == whole[690:1511]
    assert part.headers["content-range"] == "bytes 690-1510/1800"
    assert http.get("/d2/big", headers={"Range": "bytes=-5"}).content == whole[-5:]
    assert http.get("/d2/big", headers={"Range": "bytes=1800-"}).status_code == 416
    etag = http.head("/d2/big").headers["etag"]
    assert http.get("/d2/big", headers={"If-None-Match": etag}).status_code == 304


def test_manifest_get_and_bad_manifests(http: httpx.Client) -> None:
    make_dlo(http, "d3")
    itself = http.get("/d3/big", params={"multipart-manifest": "get"})
    assert itself.status_code == 200
    assert itself.content == b""
    assert itself.headers["etag"] == md5(b"")
    refused = http.put("/d3/bad", content=b"", headers={"X-Object-Manifest": "nocontainer"})
    assert refused.status_code == 400


def test_missing_segments_read_as_empty(http: httpx.Client) -> None:
    assert http.put("/d4").status_code == 201
    manifest = {"X-Object-Manifest": "d4/none-"}
    assert http.put("/d4/big", content=b"", headers=manifest).status_code == 201
    got = http.get("/d4/big")
    assert got.status_code == 200
    assert got.content == b""


def test_info_announces_dlo(swift: SwiftCluster) -> None:
    assert "max_segments" in httpx.get(f"{swift.url}/info").json()["dlo"]


def test_copying_a_manifest_copies_the_data_or_the_manifest(http: httpx.Client) -> None:
    make_dlo(http, "d5")
    flat = http.put("/d5/flat", headers={"X-Copy-From": "d5/big"})
    assert flat.status_code == 201
    got = http.get("/d5/flat")
    assert got.content == b"".join(PARTS)
    assert "x-object-manifest" not in got.headers
    kept = http.request(
        "COPY", "/d5/big", params={"multipart-manifest": "get"}, headers={"Destination": "d5/again"}
    )
    assert kept.status_code == 201
    again = http.get("/d5/again")
    assert again.headers["x-object-manifest"] == "d5_segs/big/"
    assert again.content == b"".join(PARTS)

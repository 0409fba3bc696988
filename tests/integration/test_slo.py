"""Static large objects over real HTTP: the NoAuth proxy of ``swiftcluster`` with its
whole middleware pipeline in front of real storage servers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from swiftclient.service import SwiftService, SwiftUploadObject
from swiftcluster import SwiftCluster, swift_cluster


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path_factory.mktemp("slo") / "cluster") as c:
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def md5(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


PARTS = [b"a" * 1000, b"b" * 1000, b"c" * 500]


def upload_segments(http: httpx.Client, container: str, parts: list[bytes]) -> list[dict]:
    assert http.put(f"/{container}").status_code in (201, 202)
    listed = []
    for i, part in enumerate(parts):
        assert http.put(f"/{container}/seg{i}", content=part).status_code == 201
        listed.append({"path": f"{container}/seg{i}", "etag": md5(part), "size_bytes": len(part)})
    return listed


def put_manifest(http: httpx.Client, path: str, listed: list[dict], **kw: object) -> httpx.Response:
    return http.put(path, params={"multipart-manifest": "put"}, content=json.dumps(listed), **kw)  # type: ignore[arg-type]


def test_manifest_assembles_its_segments(http: httpx.Client) -> None:
    listed = upload_segments(http, "s1", PARTS)
    listed[1]["etag"] = None  # null means: not checked
    put = put_manifest(http, "/s1/big", listed, headers={"Content-Type": "text/plain"})
    assert put.status_code == 201, put.text
    want_etag = md5("".join(md5(p) for p in PARTS))
    assert put.headers["etag"] == f'"{want_etag}"'
    got = http.get("/s1/big")
    assert got.status_code == 200
    assert got.content == b"".join(PARTS)
    assert got.headers["etag"] == f'"{want_etag}"'
    assert got.headers["content-type"].startswith("text/plain")
    assert got.headers["x-static-large-object"] == "True"
    head = http.head("/s1/big")
    assert head.headers["content-length"] == "2500"
    assert head.headers["etag"] == f'"{want_etag}"'
    assert not [k for k in head.headers if "sysmeta" in k]
    listing = {o["name"]: o for o in http.get("/s1", params={"format": "json"}).json()}
    assert listing["big"]["bytes"] == 2500
    assert listing["big"]["hash"] == want_etag


def test_manifest_get_returns_the_manifest(http: httpx.Client) -> None:
    listed = upload_segments(http, "s2", PARTS)
    assert put_manifest(http, "/s2/big", listed).status_code == 201
    stored = http.get("/s2/big", params={"multipart-manifest": "get"})
    assert stored.status_code == 200
    assert stored.headers["content-type"].startswith("application/json")
    entries = stored.json()
    assert [e["name"] for e in entries] == ["/s2/seg0", "/s2/seg1", "/s2/seg2"]
    assert [e["bytes"] for e in entries] == [1000, 1000, 500]
    assert [e["hash"] for e in entries] == [md5(p) for p in PARTS]
    raw = http.get("/s2/big", params={"multipart-manifest": "get", "format": "raw"}).json()
    assert raw == [
        {"path": f"/s2/seg{i}", "etag": md5(p), "size_bytes": len(p)} for i, p in enumerate(PARTS)
    ]


def test_ranges_across_segments(http: httpx.Client) -> None:
    listed = upload_segments(http, "s3", PARTS)
    assert put_manifest(http, "/s3/big", listed).status_code == 201
    whole = b"".join(PARTS)
    for spec, want in (
        ("bytes=990-1010", whole[990:1011]),
        ("bytes=-600", whole[-600:]),
        ("bytes=1500-", whole[1500:]),
        ("bytes=0-0", whole[:1]),
    ):
        got = http.get("/s3/big", headers={"Range": spec})
        assert got.status_code == 206, spec
        assert got.content == want, spec
        assert got.headers["content-range"].endswith("/2500")
    refused = http.get("/s3/big", headers={"Range": "bytes=5000-"})
    assert refused.status_code == 416
    assert refused.headers["content-range"] == "bytes */2500"


def test_segment_ranges_and_nested_manifests(http: httpx.Client) -> None:
    listed = upload_segments(http, "s4", PARTS)
    inner = [dict(listed[0], range="10-19"), listed[2]]
    assert put_manifest(http, "/s4/inner", inner).status_code == 201
    inner_body = PARTS[0][10:20] + PARTS[2]
    outer = [{"path": "s4/inner", "etag": None, "size_bytes": None}, listed[1]]
    put = put_manifest(http, "/s4/outer", outer)
    assert put.status_code == 201, put.text
    assert http.get("/s4/outer").content == inner_body + PARTS[1]
    assert http.head("/s4/outer").headers["content-length"] == str(len(inner_body) + 1000)
    part = http.get("/s4/outer", headers={"Range": "bytes=5-14"})
    assert part.content == (inner_body + PARTS[1])[5:15]
    entries = http.get("/s4/outer", params={"multipart-manifest": "get"}).json()
    assert entries[0]["sub_slo"] is True


def test_bad_manifests_are_refused_with_every_problem(http: httpx.Client) -> None:
    listed = upload_segments(http, "s5", PARTS)
    bad = [
        dict(listed[0], etag="0" * 32),
        dict(listed[1], size_bytes=7),
        {"path": "s5/missing", "etag": None, "size_bytes": None},
        {"path": "s5/seg2", "etag": None, "size_bytes": None, "range": "600-700"},
    ]
    refused = put_manifest(http, "/s5/big", bad)
    assert refused.status_code == 400
    assert refused.text.startswith("Errors:\n")
    assert "/s5/seg0, Etag Mismatch" in refused.text
    assert "/s5/seg1, Size Mismatch" in refused.text
    assert "/s5/missing, 404 Not Found" in refused.text
    assert "/s5/seg2, Unsatisfiable Range" in refused.text
    as_json = put_manifest(http, "/s5/big", bad, headers={"Accept": "application/json"})
    assert sorted(e[1] for e in as_json.json()["Errors"])[0] == "404 Not Found"
    assert put_manifest(http, "/s5/big", "not json").status_code == 400  # type: ignore[arg-type]
    assert (
        http.put("/s5/big", params={"multipart-manifest": "put"}, content=b"{").status_code == 400
    )
    too_many = [listed[2]] * 1001
    assert put_manifest(http, "/s5/big", too_many).status_code == 413
    assert http.get("/s5/big").status_code == 404


def test_empty_segment_only_at_the_end(http: httpx.Client) -> None:
    listed = upload_segments(http, "s6", [b"x" * 10, b""])
    assert put_manifest(http, "/s6/ok", listed).status_code == 201
    refused = put_manifest(http, "/s6/bad", [listed[1], listed[0]])
    assert refused.status_code == 400
    assert "Too small" in refused.text


def test_client_cannot_mark_an_object_as_manifest(http: httpx.Client) -> None:
    assert http.put("/s7").status_code == 201
    refused = http.put("/s7/o", content=b"[]", headers={"X-Static-Large-Object": "true"})
    assert refused.status_code == 400


def test_conditional_requests_use_the_large_object_etag(http: httpx.Client) -> None:
    listed = upload_segments(http, "s8", PARTS)
    etag = put_manifest(http, "/s8/big", listed).headers["etag"]
    assert http.get("/s8/big", headers={"If-Match": etag}).status_code == 200
    assert http.get("/s8/big", headers={"If-Match": '"nope"'}).status_code == 412
    assert http.get("/s8/big", headers={"If-None-Match": etag}).status_code == 304
    assert http.head("/s8/big", headers={"If-None-Match": "*"}).status_code == 304
    wrong = put_manifest(http, "/s8/other", listed, headers={"Etag": "0" * 32})
    assert wrong.status_code == 422


def test_changed_segments_are_never_served_silently(http: httpx.Client) -> None:
    listed = upload_segments(http, "s9", PARTS)
    assert put_manifest(http, "/s9/big", listed).status_code == 201
    assert http.put("/s9/seg2", content=b"z" * 500).status_code == 201  # same size, new etag
    with pytest.raises(httpx.HTTPError), http.stream("GET", "/s9/big") as got:
        assert got.status_code == 200
        got.read()
    assert http.delete("/s9/seg0").status_code == 204
    assert http.get("/s9/big").status_code == 409  # the first segment: before any byte


def test_manifest_delete_removes_the_segments(http: httpx.Client) -> None:
    listed = upload_segments(http, "s10", PARTS)
    assert put_manifest(http, "/s10/big", listed).status_code == 201
    deleted = http.delete(
        "/s10/big", params={"multipart-manifest": "delete"}, headers={"Accept": "application/json"}
    )
    assert deleted.status_code == 200
    report = deleted.json()
    assert report["Number Deleted"] == 4
    assert report["Errors"] == []
    assert report["Response Status"] == "200 OK"
    assert http.get("/s10", params={"format": "json"}).json() == []
    # a plain object with the same query is just deleted
    assert http.put("/s10/plain", content=b"p").status_code == 201
    plain = http.delete("/s10/plain", params={"multipart-manifest": "delete"})
    assert plain.status_code == 204


def test_info_announces_slo(swift: SwiftCluster) -> None:
    info = httpx.get(f"{swift.url}/info").json()
    assert info["slo"] == {
        "max_manifest_segments": 1000,
        "max_manifest_size": 8 * 1024 * 1024,
        "min_segment_size": 1,
    }


def test_swiftclient_uploads_and_downloads_an_slo(swift: SwiftCluster, tmp_path: Path) -> None:
    source = tmp_path / "file.bin"
    source.write_bytes(bytes(range(256)) * 4000)
    options = {"os_storage_url": swift.storage_url(), "os_auth_token": "unused"}
    with SwiftService(options=options) as service:
        results = list(
            service.upload(
                "sc",
                [SwiftUploadObject(str(source), object_name="file.bin")],
                options={"segment_size": 100_000, "use_slo": True},
            )
        )
    assert all(r["success"] for r in results), results
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as http:
        head = http.head("/sc/file.bin")
        assert head.headers["x-static-large-object"] == "True"
        assert http.get("/sc/file.bin").content == source.read_bytes()


def test_copying_a_manifest_copies_the_data_or_the_manifest(http: httpx.Client) -> None:
    listed = upload_segments(http, "s11", PARTS)
    headers = {"Content-Type": "text/x-big", "X-Object-Meta-Color": "red"}
    assert put_manifest(http, "/s11/big", listed, headers=headers).status_code == 201
    copied = http.request("COPY", "/s11/big", headers={"Destination": "s11/flat"})
    assert copied.status_code == 201, copied.text
    assert copied.headers["x-copied-from"] == "s11/big"
    flat = http.get("/s11/flat")
    assert flat.content == b"".join(PARTS)
    assert "x-static-large-object" not in flat.headers
    assert flat.headers["etag"] == md5(b"".join(PARTS))
    assert flat.headers["x-object-meta-color"] == "red"
    assert flat.headers["content-type"].startswith("text/x-big")
    again = http.put(
        "/s11/manifest-copy",
        params={"multipart-manifest": "get"},
        headers={"X-Copy-From": "/s11/big"},
    )
    assert again.status_code == 201, again.text
    head = http.head("/s11/manifest-copy")
    assert head.headers["x-static-large-object"] == "True"
    assert head.headers["content-type"].startswith("text/x-big")
    assert head.headers["etag"] == http.head("/s11/big").headers["etag"]
    assert http.get("/s11/manifest-copy").content == b"".join(PARTS)
    assert http.request("COPY", "/s11/nope", headers={"Destination": "s11/x"}).status_code == 404


def test_inline_data_segments(http: httpx.Client) -> None:
    listed = upload_segments(http, "s12", PARTS[:1])
    header, footer = b"<<header>>", b"<<footer>>"
    manifest = [
        {"data": base64.b64encode(header).decode()},
        listed[0],
        {"data": base64.b64encode(footer).decode()},
    ]
    put = put_manifest(http, "/s12/wrapped", manifest)
    assert put.status_code == 201, put.text
    whole = header + PARTS[0] + footer
    assert http.get("/s12/wrapped").content == whole
    assert put.headers["etag"] == f'"{md5(md5(header) + md5(PARTS[0]) + md5(footer))}"'
    part = http.get("/s12/wrapped", headers={"Range": "bytes=5-15"})
    assert part.content == whole[5:16]
    raw = http.get("/s12/wrapped", params={"multipart-manifest": "get", "format": "raw"}).json()
    assert raw[0] == manifest[0]
    bad = put_manifest(http, "/s12/bad", [{"data": "not base64!"}])
    assert bad.status_code == 400
    deleted = http.delete("/s12/wrapped", params={"multipart-manifest": "delete"})
    assert "Number Deleted: 2" in deleted.text

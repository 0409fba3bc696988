"""Bulk delete and archive extraction over real HTTP: the NoAuth proxy of
``swiftcluster`` with its whole middleware pipeline in front of real storage servers."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from swiftcluster import SwiftCluster, swift_cluster


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    with swift_cluster(tmp_path_factory.mktemp("bulk") / "cluster") as c:
        yield c


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def names(http: httpx.Client, container: str) -> list[str]:
    return [o["name"] for o in http.get(f"/{container}", params={"format": "json"}).json()]


def test_bulk_delete_reports_each_outcome(http: httpx.Client) -> None:
    assert http.put("/b1").status_code == 201
    assert http.put("/b1full").status_code == 201
    for name in ("a", "dir/ü b", "keep"):
        assert http.put(f"/b1/{name}", content=b"x").status_code == 201
    assert http.put("/b1full/o", content=b"x").status_code == 201
    listing = "\n".join(
        [quote("/b1/a"), quote("/b1/dir/ü b"), "/b1/missing", "/b1full", "/nowhere/x", ""]
    )
    got = http.post(
        "/", params={"bulk-delete": ""}, content=listing, headers={"Accept": "application/json"}
    )
    assert got.status_code == 200
    report = got.json()
    assert report["Number Deleted"] == 2
    assert report["Number Not Found"] == 2
    assert report["Errors"] == [["/b1full", "409 Conflict"]]
    assert report["Response Status"] == "400 Bad Request"
    assert names(http, "b1") == ["keep"]
    plain = http.post("", params={"bulk-delete": "1"}, content="/b1/keep\n/b1\n")
    assert plain.headers["content-type"].startswith("text/plain")
    assert "Number Deleted: 2" in plain.text
    assert "Response Status: 200 OK" in plain.text
    assert http.head("/b1").status_code == 404
    xml = http.post(
        "", params={"bulk-delete": ""}, content="/b1full/o\n", headers={"Accept": "application/xml"}
    )
    assert "<number_deleted>1</number_deleted>" in xml.text


def test_bulk_delete_limits(http: httpx.Client) -> None:
    too_many = "\n".join(f"/c/o{i}" for i in range(10_001))
    assert http.post("", params={"bulk-delete": ""}, content=too_many).status_code == 413


def tar_of(files: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        folder = tarfile.TarInfo("x1/emptydir")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    return out.getvalue()


FILES = {"x1/a.txt": b"alpha", "x1/sub/b.bin": bytes(range(256)) * 1000, "x2/c": b""}


@pytest.mark.parametrize(("fmt", "mode"), [("tar", "w"), ("tar.gz", "w:gz"), ("tar.bz2", "w:bz2")])
def test_extract_archive_at_the_account(http: httpx.Client, fmt: str, mode: str) -> None:
    def chunks() -> Iterator[bytes]:  # streamed, chunked: no Content-Length
        body = tar_of(FILES, mode)
        for i in range(0, len(body), 7000):
            yield body[i : i + 7000]

    got = http.put(
        "/",
        params={"extract-archive": fmt},
        content=chunks(),
        headers={"Accept": "application/json"},
    )
    assert got.status_code == 200
    report = got.json()
    assert report["Number Files Created"] == 3, report
    assert report["Errors"] == []
    assert names(http, "x1") == ["a.txt", "sub/b.bin"]
    assert http.get("/x1/sub/b.bin").content == FILES["x1/sub/b.bin"]
    assert names(http, "x2") == ["c"]
    for container, objs in (("x1", ["a.txt", "sub/b.bin"]), ("x2", ["c"])):
        for obj in objs:
            http.delete(f"/{container}/{obj}")
        http.delete(f"/{container}")


def test_extract_archive_into_a_container_prefix(http: httpx.Client) -> None:
    assert http.put("/into").status_code == 201
    body = tar_of({"./one": b"1", "two/three": b"3"})
    got = http.put("/into/pre", params={"extract-archive": "tar"}, content=body)
    assert got.status_code == 200
    assert "Number Files Created: 2" in got.text
    assert names(http, "into") == ["pre/one", "pre/two/three"]


def test_bad_archives_are_reported(http: httpx.Client) -> None:
    got = http.put("/", params={"extract-archive": "tar.gz"}, content=b"not a tarball" * 100)
    assert got.status_code == 200
    assert "Invalid Tar File" in got.text
    assert http.put("/", params={"extract-archive": "zip"}, content=b"").status_code == 400


def test_info_announces_bulk(swift: SwiftCluster) -> None:
    info = httpx.get(f"{swift.url}/info").json()
    assert info["bulk_delete"]["max_deletes_per_request"] == 10_000
    assert "max_failed_extractions" in info["bulk_upload"]

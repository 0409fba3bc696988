"""Object versioning (``X-Versions-Location`` / ``X-History-Location``) through the real
proxy and storage servers, driven by python-swiftclient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from swiftclient import client as sc
from swiftcluster import SwiftCluster, swift_cluster

TOKEN = "unused-with-noauth"


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    root: Path = tmp_path_factory.mktemp("versioning") / "cluster"
    with swift_cluster(root) as c:
        yield c


@pytest.fixture
def url(swift: SwiftCluster) -> str:
    return swift.storage_url()


@pytest.fixture
def http(swift: SwiftCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=swift.storage_url(), timeout=60) as client:
        yield client


def names(url: str, container: str, prefix: str | None = None) -> list[str]:
    return [o["name"] for o in sc.get_container(url, TOKEN, container, prefix=prefix)[1]]


def body(url: str, container: str, obj: str) -> bytes:
    return sc.get_object(url, TOKEN, container, obj)[1]


def test_location_is_sysmeta_shown_to_the_owner(url: str, http: httpx.Client) -> None:
    sc.put_container(url, TOKEN, "docs", headers={"X-Versions-Location": "docs-v"})
    head = sc.head_container(url, TOKEN, "docs")
    assert head["x-versions-location"] == "docs-v"
    assert not [k for k in head if "sysmeta" in k]
    sc.post_container(url, TOKEN, "docs", headers={"X-History-Location": "docs-h"})
    head = sc.head_container(url, TOKEN, "docs")
    assert head["x-history-location"] == "docs-h"
    assert "x-versions-location" not in head
    sc.post_container(url, TOKEN, "docs", headers={"X-Remove-History-Location": "x"})
    head = sc.head_container(url, TOKEN, "docs")
    assert "x-history-location" not in head and "x-versions-location" not in head
    both = {"X-Versions-Location": "a", "X-History-Location": "b"}
    assert http.post("/docs", headers=both).status_code == 400
    assert http.post("/docs", headers={"X-Versions-Location": "a%2Fb"}).status_code == 412
    # GET shows it too, and an empty value removes it
    sc.post_container(url, TOKEN, "docs", headers={"X-Versions-Location": "docs-v"})
    assert http.get("/docs").headers["x-versions-location"] == "docs-v"
    sc.post_container(url, TOKEN, "docs", headers={"X-Versions-Location": ""})
    assert "x-versions-location" not in http.head("/docs").headers


def test_stack_mode(url: str) -> None:
    sc.put_container(url, TOKEN, "stack-v")
    sc.put_container(url, TOKEN, "stack", headers={"X-Versions-Location": "stack-v"})
    for i in range(3):
        sc.put_object(
            url, TOKEN, "stack", "obj", f"v{i}".encode(), headers={"X-Object-Meta-N": str(i)}
        )
    archived = names(url, "stack-v")
    assert len(archived) == 2
    assert all(n.startswith("003obj/") for n in archived)
    assert [body(url, "stack-v", n) for n in archived] == [b"v0", b"v1"]
    assert sc.head_object(url, TOKEN, "stack-v", archived[0])["x-object-meta-n"] == "0"
    assert body(url, "stack", "obj") == b"v2"
    # each DELETE restores the newest archived version, until none is left
    sc.delete_object(url, TOKEN, "stack", "obj")
    assert body(url, "stack", "obj") == b"v1"
    assert sc.head_object(url, TOKEN, "stack", "obj")["x-object-meta-n"] == "1"
    assert names(url, "stack-v") == archived[:1]
    sc.delete_object(url, TOKEN, "stack", "obj")
    assert body(url, "stack", "obj") == b"v0"
    assert names(url, "stack-v") == []
    sc.delete_object(url, TOKEN, "stack", "obj")
    with pytest.raises(sc.ClientException) as info:
        sc.head_object(url, TOKEN, "stack", "obj")
    assert info.value.http_status == 404


def test_copy_onto_a_versioned_object_archives_it(url: str, http: httpx.Client) -> None:
    sc.put_container(url, TOKEN, "copy-v")
    sc.put_container(url, TOKEN, "copy", headers={"X-Versions-Location": "copy-v"})
    sc.put_object(url, TOKEN, "copy", "a", b"old")
    sc.put_object(url, TOKEN, "copy", "b", b"new")
    assert http.request("COPY", "/copy/b", headers={"Destination": "copy/a"}).status_code == 201
    assert body(url, "copy", "a") == b"new"
    assert [body(url, "copy-v", n) for n in names(url, "copy-v")] == [b"old"]
    assert http.put("/copy/a", headers={"X-Copy-From": "copy/b"}).status_code == 201
    assert len(names(url, "copy-v")) == 2


def test_history_mode(url: str) -> None:
    sc.put_container(url, TOKEN, "hist-v")
    sc.put_container(url, TOKEN, "hist", headers={"X-History-Location": "hist-v"})
    sc.put_object(url, TOKEN, "hist", "doc", b"first")
    sc.put_object(url, TOKEN, "hist", "doc", b"second")
    sc.delete_object(url, TOKEN, "hist", "doc")
    with pytest.raises(sc.ClientException) as info:
        sc.get_object(url, TOKEN, "hist", "doc")
    assert info.value.http_status == 404
    assert names(url, "hist") == []
    listed = sc.get_container(url, TOKEN, "hist-v")[1]
    assert [o["bytes"] for o in listed] == [5, 6, 0]
    assert listed[2]["content_type"] == "application/x-deleted;swift_versions_deleted=1"
    assert [body(url, "hist-v", o["name"]) for o in listed[:2]] == [b"first", b"second"]


def test_missing_archive_container_is_412(url: str) -> None:
    sc.put_container(url, TOKEN, "lost", headers={"X-Versions-Location": "nowhere"})
    sc.put_object(url, TOKEN, "lost", "o", b"one")  # nothing to archive yet
    with pytest.raises(sc.ClientException) as info:
        sc.put_object(url, TOKEN, "lost", "o", b"two")
    assert info.value.http_status == 412
    assert body(url, "lost", "o") == b"one"


def test_unversioned_containers_are_untouched(url: str) -> None:
    sc.put_container(url, TOKEN, "plain")
    sc.put_object(url, TOKEN, "plain", "o", b"1")
    sc.put_object(url, TOKEN, "plain", "o", b"2")
    sc.delete_object(url, TOKEN, "plain", "o")
    assert names(url, "plain") == []


def test_info_announces_versioned_writes(http: httpx.Client, swift: SwiftCluster) -> None:
    info = httpx.get(swift.url + "/info").json()
    assert info["versioned_writes"] == {
        "allowed_flags": ["x-versions-location", "x-history-location"]
    }

"""Glance v2 over raw HTTP under ``stratus up``: what clients rely on beyond the CLI's
paths, and what bad input gets (Glance's JSON errors, never a 500)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cloudproc import Cloud

PATCH = "application/openstack-images-v2.1-json-patch"
MiB = 1 << 20


def token(cloud: Cloud, who: str) -> str:
    issued: dict[str, Any] = cloud.openstack("token", "issue", "-f", "json", cloud=who)
    return str(issued["id"])


@pytest.fixture(scope="module")
def admin(cloud: Cloud) -> Iterator[httpx.Client]:
    headers = {"X-Auth-Token": token(cloud, "stratus-admin")}
    with httpx.Client(base_url=cloud.image_url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def demo(cloud: Cloud) -> Iterator[httpx.Client]:
    headers = {"X-Auth-Token": token(cloud, "stratus-demo")}
    with httpx.Client(base_url=cloud.image_url, headers=headers, timeout=60) as client:
        yield client


def new_image(client: httpx.Client, **attrs: Any) -> dict[str, Any]:
    body = {"name": f"api-{uuid.uuid4().hex[:8]}", **attrs}
    created = client.post("/v2/images", json=body)
    assert created.status_code == 201, created.text
    image: dict[str, Any] = created.json()
    return image


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"].startswith(str(status))
    return str(body["message"])


def test_version_discovery_and_schemas(cloud: Cloud, admin: httpx.Client) -> None:
    root = httpx.get(f"{cloud.image_url}/")
    assert root.status_code == 300
    ids = [v["id"] for v in root.json()["versions"]]
    assert ids[0] == "v2.9" and "v2.0" in ids
    schema = admin.get("/v2/schemas/image").json()
    assert schema["name"] == "image" and "qcow2" in schema["properties"]["disk_format"]["enum"]
    assert admin.get("/v2/schemas/images").json()["name"] == "images"
    methods = admin.get("/v2/info/import").json()["import-methods"]["value"]
    assert methods == ["glance-direct", "copy-image"]


def test_bad_input_gets_glance_errors(admin: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    assert "No image found" in error_of(admin.get(f"/v2/images/{missing}"), 404)
    error_of(admin.post("/v2/images", content=b"{not json"), 400)
    error_of(admin.post("/v2/images", json=["a list"]), 400)
    assert "read-only" in error_of(admin.post("/v2/images", json={"status": "active"}), 403)
    error_of(admin.post("/v2/images", json={"disk_format": "floppy"}), 400)
    error_of(admin.post("/v2/images", json={"min_ram": -1}), 400)
    error_of(admin.post("/v2/images", json={"id": "not-a-uuid"}), 400)
    error_of(admin.post("/v2/images", json={"custom": 5}), 400)
    error_of(admin.get("/v2/images?limit=x"), 400)
    error_of(admin.get("/v2/images?sort_key=nope"), 400)
    error_of(admin.get("/v2/images?marker=" + missing), 400)
    image = new_image(admin)
    path = f"/v2/images/{image['id']}"
    error_of(admin.patch(path, json=[], headers={"Content-Type": "application/json"}), 415)
    patch = {"Content-Type": PATCH}
    error_of(admin.patch(path, json=[{"op": "move", "path": "/name"}], headers=patch), 400)
    error_of(admin.patch(path, json=[{"op": "remove", "path": "/nope"}], headers=patch), 409)
    error_of(admin.patch(path, json=[{"op": "remove", "path": "/name"}], headers=patch), 403)
    error_of(admin.put(f"{path}/file", content=b"x"), 400)  # formats not set
    assert admin.get(f"{path}/file").status_code == 204  # no data yet
    again = admin.post("/v2/images", json={"id": image["id"]})
    error_of(again, 409)


def test_patch_properties_tags_and_listing(admin: httpx.Client) -> None:
    marker_tag = uuid.uuid4().hex[:8]
    ids = [new_image(admin, tags=[marker_tag], min_ram=i)["id"] for i in range(3)]
    path = f"/v2/images/{ids[0]}"
    ops = [
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/os~1distro", "value": "debian"},
    ]
    patched = admin.patch(path, json=ops, headers={"Content-Type": PATCH})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["hw_disk_bus"], body["name"], body["os/distro"]) == ("scsi", "renamed", "debian")
    assert admin.put(f"{path}/tags/extra").status_code == 204
    assert "extra" in admin.get(path).json()["tags"]
    assert admin.delete(f"{path}/tags/extra").status_code == 204
    assert admin.delete(f"{path}/tags/extra").status_code == 404
    by_prop = admin.get("/v2/images", params={"hw_disk_bus": "scsi", "tag": marker_tag})
    assert [i["id"] for i in by_prop.json()["images"]] == [ids[0]]
    # paging: two pages of the three, ordered by min_ram
    first = admin.get("/v2/images", params={"tag": marker_tag, "limit": 2, "sort": "min_ram:asc"})
    page = first.json()
    assert [i["id"] for i in page["images"]] == ids[:2]
    second = admin.get(page["next"]).json()
    assert [i["id"] for i in second["images"]] == ids[2:]
    assert "next" not in second


def test_community_and_public_visibility(admin: httpx.Client, demo: httpx.Client) -> None:
    community = new_image(demo, visibility="community")
    assert admin.get(f"/v2/images/{community['id']}").status_code == 200
    error_of(demo.post("/v2/images", json={"visibility": "public"}), 403)
    public = new_image(admin, visibility="public")
    listed = [i["id"] for i in demo.get("/v2/images").json()["images"]]
    assert public["id"] in listed
    error_of(demo.delete(f"/v2/images/{public['id']}"), 403)
    listed = [
        i["id"] for i in demo.get("/v2/images", params={"visibility": "community"}).json()["images"]
    ]
    assert community["id"] in listed


def test_deactivate_blocks_download_for_non_admins(admin: httpx.Client, demo: httpx.Client) -> None:
    image = new_image(admin, visibility="public", disk_format="raw", container_format="bare")
    path = f"/v2/images/{image['id']}"
    assert admin.put(f"{path}/file", content=b"z" * 1000).status_code == 204
    error_of(demo.post(f"{path}/actions/deactivate"), 403)
    assert admin.post(f"{path}/actions/deactivate").status_code == 204
    assert admin.get(path).json()["status"] == "deactivated"
    assert "deactivated" in error_of(demo.get(f"{path}/file"), 403)
    assert admin.get(f"{path}/file").content == b"z" * 1000
    assert admin.post(f"{path}/actions/reactivate").status_code == 204
    assert demo.get(f"{path}/file").content == b"z" * 1000
    error_of(admin.put(f"{path}/file", content=b"again"), 409)


def test_glance_direct_import(admin: httpx.Client) -> None:
    image = new_image(admin, disk_format="raw", container_format="bare")
    path = f"/v2/images/{image['id']}"
    assert admin.put(f"{path}/stage", content=b"staged" * 1000).status_code == 204
    assert admin.get(path).json()["status"] == "uploading"
    started = admin.post(f"{path}/import", json={"method": {"name": "glance-direct"}})
    assert started.status_code == 202
    deadline = time.monotonic() + 30
    while admin.get(path).json()["status"] != "active":
        assert time.monotonic() < deadline, admin.get(path).json()
        time.sleep(0.1)
    assert admin.get(f"{path}/file").content == b"staged" * 1000
    error_of(admin.post(f"{path}/import", json={"method": {"name": "web-download"}}), 400)


def service_swift(cloud: Cloud, *args: str) -> str:
    env = cloud.swift_env() | {"ST_USER": "service:service", "ST_KEY": cloud.password("service")}
    return cloud.swift(*args, env=env).stdout


def wait_for_stores(client: httpx.Client, path: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        image: dict[str, Any] = client.get(path).json()
        if image.get("stores") == wanted:
            return image
        assert time.monotonic() < deadline, image
        time.sleep(0.2)


def test_object_store_backend_segments_ranges_and_delete(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client
) -> None:
    data = os.urandom(9 * MiB + 5)  # three 4 MiB segments in the test cloud
    image = new_image(demo, disk_format="raw", container_format="bare")
    path = f"/v2/images/{image['id']}"
    put = demo.put(f"{path}/file", content=data, headers={"X-Image-Meta-Store": "object"})
    assert put.status_code == 204, put.text
    shown = demo.get(path).json()
    assert (shown["status"], shown["stores"], shown["size"]) == ("active", "object", len(data))
    assert demo.get(f"{path}/file").content == data
    across = demo.get(f"{path}/file", headers={"Range": f"bytes={4 * MiB - 3}-{8 * MiB + 2}"})
    assert across.status_code == 206 and across.content == data[4 * MiB - 3 : 8 * MiB + 3]
    held = service_swift(cloud, "list", "stratus-images", "--prefix", image["id"]).split()
    assert len(held) == 4  # three segments and the manifest
    assert demo.delete(path).status_code == 204
    left = service_swift(cloud, "list", "stratus-images", "--prefix", image["id"]).split()
    assert left == []


def test_copy_image_between_stores(admin: httpx.Client) -> None:
    data = os.urandom(MiB + 1)
    image = new_image(admin, disk_format="raw", container_format="bare")
    path = f"/v2/images/{image['id']}"
    assert admin.put(f"{path}/file", content=data).status_code == 204
    assert admin.get(path).json()["stores"] == "file"
    body = {"method": {"name": "copy-image"}, "stores": ["object"]}
    assert admin.post(f"{path}/import", json=body).status_code == 202
    wait_for_stores(admin, path, "file,object")
    assert admin.get(f"{path}/file").content == data
    error_of(admin.post(f"{path}/import", json={**body, "stores": ["tape"]}), 400)

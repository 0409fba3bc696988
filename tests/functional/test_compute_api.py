"""Nova v2.1 under ``stratus up``: version discovery, microversions, flavors and key
pairs, with the real CLI and openstacksdk, and Nova's fault format for bad input."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest
from compute_clients import client, fault, unique

from cloudproc import Cloud


@pytest.fixture(scope="module")
def admin(cloud: Cloud) -> Iterator[httpx.Client]:
    with client(cloud, "stratus-admin") as c:
        yield c


@pytest.fixture(scope="module")
def demo(cloud: Cloud) -> Iterator[httpx.Client]:
    with client(cloud, "stratus-demo") as c:
        yield c


def test_version_discovery(cloud: Cloud) -> None:
    root = httpx.get(f"{cloud.compute_url}/").json()["versions"]
    by_id = {v["id"]: v for v in root}
    assert by_id["v2.1"]["min_version"] == "2.1" and by_id["v2.1"]["version"] == "2.79"
    assert "v2.0" in by_id
    doc = httpx.get(f"{cloud.compute_url}/v2.1").json()["version"]
    assert doc["status"] == "CURRENT" and doc["version"] == "2.79"
    catalog = cloud.openstack("catalog", "show", "compute", "-f", "json")
    assert catalog["name"] == "nova" and "/v2.1" in str(catalog["endpoints"])


def test_microversion_negotiation(cloud: Cloud, admin: httpx.Client) -> None:
    for header, value in (
        ("OpenStack-API-Version", "compute 2.47"),
        ("X-OpenStack-Nova-API-Version", "2.47"),
    ):
        r = admin.get("/flavors/1", headers={"OpenStack-API-Version": "", header: value})
        assert r.headers["OpenStack-API-Version"] == "compute 2.47", r.headers
        assert r.headers["X-OpenStack-Nova-API-Version"] == "2.47"
        assert "OpenStack-API-Version" in r.headers["Vary"]
        assert "description" not in r.json()["flavor"]  # 2.55
    latest = admin.get("/flavors/1", headers={"OpenStack-API-Version": "compute latest"})
    assert latest.headers["OpenStack-API-Version"] == "compute 2.79"
    assert "extra_specs" in latest.json()["flavor"]  # 2.61
    base = admin.get("/flavors/1", headers={"OpenStack-API-Version": "volume 3.0"})
    assert base.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    too_new = admin.get("/flavors", headers={"OpenStack-API-Version": "compute 2.999"})
    assert "not supported" in fault(too_new, 406, "computeFault")
    bad = admin.get("/flavors", headers={"OpenStack-API-Version": "compute 2.x"})
    assert "invalid format" in fault(bad, 400, "badRequest")


def test_default_flavors_and_filters(cloud: Cloud, demo: httpx.Client) -> None:
    names = [f["Name"] for f in cloud.openstack("flavor", "list", "-f", "json")]
    for name in ("m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"):
        assert name in names
    tiny = demo.get("/flavors/1").json()["flavor"]
    assert (tiny["vcpus"], tiny["ram"], tiny["disk"]) == (1, 512, 1)
    assert tiny["OS-FLV-EXT-DATA:ephemeral"] == 0 and tiny["os-flavor-access:is_public"]
    big = demo.get("/flavors/detail", params={"minRam": 8192}).json()["flavors"]
    assert {f["name"] for f in big} >= {"m1.large", "m1.xlarge"}
    assert all(f["ram"] >= 8192 for f in big)
    first = demo.get("/flavors", params={"limit": 2}).json()
    assert len(first["flavors"]) == 2 and first["flavors_links"][0]["rel"] == "next"
    rest = demo.get("/flavors", params={"marker": first["flavors"][-1]["id"]}).json()
    assert first["flavors"][-1]["id"] not in [f["id"] for f in rest["flavors"]]
    assert "not found" in fault(demo.get("/flavors", params={"marker": "nope"}), 400, "badRequest")
    assert "could not be found" in fault(demo.get("/flavors/nope"), 404, "itemNotFound")


def test_private_flavor_access_and_extra_specs(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client
) -> None:
    name = unique("priv")
    created = cloud.openstack(
        "flavor",
        "create",
        "--ram",
        "256",
        "--vcpus",
        "1",
        "--disk",
        "1",
        "--private",
        "--description",
        "mine",
        name,
        "-f",
        "json",
    )
    fid = created["id"]
    assert created["description"] == "mine"
    assert fault(demo.get(f"/flavors/{fid}"), 404, "itemNotFound")
    assert fid not in [f["id"] for f in demo.get("/flavors").json()["flavors"]]
    demo_project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    cloud.openstack("flavor", "set", "--project", demo_project, name)
    assert demo.get(f"/flavors/{fid}").status_code == 200
    access = admin.get(f"/flavors/{fid}/os-flavor-access").json()["flavor_access"]
    assert {"flavor_id": fid, "tenant_id": demo_project} in access
    again = admin.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": demo_project}})
    fault(again, 409, "conflictingRequest")
    cloud.openstack("flavor", "set", "--property", "hw:cpu_policy=dedicated", name)
    specs = demo.get(f"/flavors/{fid}/os-extra_specs").json()["extra_specs"]
    assert specs == {"hw:cpu_policy": "dedicated"}
    fault(demo.put(f"/flavors/{fid}/os-extra_specs/a", json={"a": "b"}), 403, "forbidden")
    public = admin.get("/flavors/1/os-flavor-access")
    assert "public" in fault(public, 404, "itemNotFound")
    cloud.openstack("flavor", "unset", "--project", demo_project, name)
    assert demo.get(f"/flavors/{fid}").status_code == 404
    cloud.openstack("flavor", "delete", name)
    assert admin.get(f"/flavors/{fid}").status_code == 404


def test_flavor_create_is_admin_only_and_validated(admin: httpx.Client, demo: httpx.Client) -> None:
    body = {"flavor": {"name": unique("f"), "ram": 64, "vcpus": 1, "disk": 0}}
    fault(demo.post("/flavors", json=body), 403, "forbidden")
    fault(
        admin.post("/flavors", json={"flavor": {"name": "x", "ram": 0, "vcpus": 1, "disk": 0}}),
        400,
        "badRequest",
    )
    fault(
        admin.post(
            "/flavors", json={"flavor": {"name": "m1.tiny", "ram": 64, "vcpus": 1, "disk": 0}}
        ),
        409,
        "conflictingRequest",
    )
    fault(admin.post("/flavors", content=b"{nope"), 400, "badRequest")
    fault(
        admin.post("/flavors", json={"flavor": {**body["flavor"], "color": 1}}), 400, "badRequest"
    )


def test_keypairs_create_import_isolation(
    cloud: Cloud, tmp_path: pytest.TempPathFactory, demo: httpx.Client, admin: httpx.Client
) -> None:
    name = unique("kp")
    private = cloud.cli("keypair", "create", name, cloud="stratus-demo").stdout
    assert "PRIVATE KEY" in private
    listed = cloud.openstack("keypair", "list", "-f", "json", cloud="stratus-demo")
    assert name in [k["Name"] for k in listed]
    assert name not in [k["Name"] for k in cloud.openstack("keypair", "list", "-f", "json")]
    assert fault(admin.get(f"/os-keypairs/{name}"), 404, "itemNotFound")
    key_file = tmp_path / "id"  # type: ignore[operator]
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key_file)], check=True
    )
    imported = cloud.openstack(
        "keypair",
        "create",
        "--public-key",
        f"{key_file}.pub",
        unique("imp"),
        "-f",
        "json",
        cloud="stratus-demo",
    )
    expected = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", f"{key_file}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert imported["fingerprint"] == expected.split()[1].removeprefix("MD5:")
    shown = demo.get(f"/os-keypairs/{imported['name']}").json()["keypair"]
    assert shown["type"] == "ssh" and shown["user_id"]
    again = demo.post("/os-keypairs", json={"keypair": {"name": name}})
    assert "already exists" in fault(again, 409, "conflictingRequest")
    junk = demo.post(
        "/os-keypairs", json={"keypair": {"name": unique("j"), "public_key": "ssh-rsa AAAA junk"}}
    )
    assert "invalid" in fault(junk, 400, "badRequest")
    unsafe = demo.post("/os-keypairs", json={"keypair": {"name": "a/b"}})
    fault(unsafe, 400, "badRequest")
    cloud.openstack("keypair", "delete", name, cloud="stratus-demo")
    assert demo.get(f"/os-keypairs/{name}").status_code == 404


def test_admin_reaches_other_users_keypairs(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client
) -> None:
    name = unique("kp")
    created = demo.post("/os-keypairs", json={"keypair": {"name": name}})
    assert created.status_code == 201
    user_id = created.json()["keypair"]["user_id"]
    listed = admin.get("/os-keypairs", params={"user_id": user_id}).json()["keypairs"]
    assert name in [k["keypair"]["name"] for k in listed]
    assert admin.delete(f"/os-keypairs/{name}", params={"user_id": user_id}).status_code == 204
    other = demo.get("/os-keypairs", params={"user_id": "someone-else"})
    fault(other, 404, "itemNotFound")


# openstacksdk warns about its own deprecated internals (InfluxDB, _compute_attributes).
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_openstacksdk_lists_flavors_and_keypairs(cloud: Cloud) -> None:
    conn = cloud.sdk("stratus-demo")
    try:
        assert "m1.small" in [f.name for f in conn.compute.flavors()]
        kp = conn.compute.create_keypair(name=unique("sdk"))
        assert kp.private_key and kp.fingerprint
        assert kp.name in [k.name for k in conn.compute.keypairs()]
        conn.compute.delete_keypair(kp)
    finally:
        conn.close()

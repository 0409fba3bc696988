"""The metadata service under ``stratus up``: a server booted with the real ``openstack``
CLI (fake driver), then its metadata read as the network's metadata proxy would ask for
it (signed instance id), compared with what the compute API shows; and a config drive
built for the same instance, read back from the ISO and compared with the service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from compute_clients import client, fault

from cloudproc import Cloud
from stratus.compute.metadata.config_drive import build_config_drive
from stratus.compute.metadata.record import BlockDevice, InstanceMetadata

USER_DATA = b"#!/bin/sh\necho 'hello from user data'\n"
COMPUTE_VERSION = ("--os-compute-api-version", "2.79")


def osc(cloud: Cloud, *args: str, who: str = "stratus-demo") -> Any:
    return cloud.openstack(*args, "-f", "json", cloud=who)


@pytest.fixture(scope="module")
def image(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    disk = tmp_path_factory.mktemp("md-image") / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    made = osc(
        cloud, "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(disk), "--public", f"md-{uuid.uuid4().hex[:6]}", who="stratus-admin",
    )  # fmt: skip
    return str(made["id"])


@pytest.fixture(scope="module")
def key(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A key pair of the demo user: (name, public key)."""
    path = tmp_path_factory.mktemp("md-key") / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    name = f"mdkey-{uuid.uuid4().hex[:6]}"
    public = Path(f"{path}.pub").read_text().strip()
    cloud.cli("keypair", "create", "--public-key", f"{path}.pub", name, cloud="stratus-demo")
    return name, public


def boot(cloud: Cloud, image: str, tmp: Path, *extra: str, who: str = "stratus-demo") -> str:
    user_data = tmp / f"ud-{uuid.uuid4().hex[:6]}"
    user_data.write_bytes(USER_DATA)
    made = osc(
        cloud, *COMPUTE_VERSION, "server", "create", "--flavor", "m1.tiny", "--image", image,
        "--user-data", str(user_data), "--nic", "none", "--wait", *extra,
        f"md-{uuid.uuid4().hex[:6]}", who=who,
    )  # fmt: skip
    assert made["status"] == "ACTIVE", made
    return str(made["id"])


def admin_view(cloud: Cloud, server: str) -> dict[str, Any]:
    shown: dict[str, Any] = osc(
        cloud, *COMPUTE_VERSION, "server", "show", server, who="stratus-admin"
    )
    return shown


@pytest.fixture(scope="module")
def server(
    cloud: Cloud, image: str, key: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("md-boot")
    made = boot(cloud, image, tmp, "--key-name", key[0], "--property", "role=web",
                "--property", "tier=front", "--config-drive", "True")  # fmt: skip
    try:
        yield admin_view(cloud, made)
    finally:
        cloud.cli("server", "delete", "--wait", made, cloud="stratus-demo", check=False)


@pytest.fixture(scope="module")
def other(
    cloud: Cloud, image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A server in the admin project, with no key and other metadata."""
    made = boot(cloud, image, tmp_path_factory.mktemp("md-other"), "--property", "role=db",
                who="stratus-admin")  # fmt: skip
    try:
        yield admin_view(cloud, made)
    finally:
        cloud.cli("server", "delete", "--wait", made, check=False)


class Proxy:
    """Requests as the network agent's metadata proxy sends them."""

    def __init__(self, cloud: Cloud) -> None:
        self.secret = cloud.secrets()["metadata_shared_secret"]
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{cloud.ports['metadata']}")

    def headers(self, instance: str, tenant: str, signature: str | None = None) -> dict[str, str]:
        if signature is None:
            signature = hmac.new(
                self.secret.encode(), instance.encode(), hashlib.sha256
            ).hexdigest()
        return {"X-Instance-ID": instance, "X-Tenant-ID": tenant, "X-Forwarded-For": "10.0.0.5",
                "X-Instance-ID-Signature": signature}  # fmt: skip

    def get(self, path: str, server: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.http.get(path, headers=self.headers(server["id"], server["project_id"], **kw))

    def text(self, path: str, server: dict[str, Any]) -> str:
        r = self.get(path, server)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.text

    def json(self, path: str, server: dict[str, Any]) -> Any:
        r = self.get(path, server)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json")
        return r.json()


@pytest.fixture(scope="module")
def proxy(cloud: Cloud) -> Iterator[Proxy]:
    p = Proxy(cloud)
    try:
        yield p
    finally:
        p.http.close()


def test_openstack_meta_data_matches_the_api(
    proxy: Proxy, server: dict[str, Any], key: tuple[str, str]
) -> None:
    assert proxy.text("/openstack", server).splitlines()[-1] == "latest"
    listing = proxy.text("/openstack/latest/", server).splitlines()
    assert {"meta_data.json", "network_data.json", "vendor_data2.json", "user_data"} <= set(listing)
    md = proxy.json("/openstack/latest/meta_data.json", server)
    assert md["uuid"] == server["id"]
    assert md["name"] == server["name"]
    assert md["hostname"] == server["OS-EXT-SRV-ATTR:hostname"]
    assert md["project_id"] == server["project_id"]
    assert md["availability_zone"] == server["OS-EXT-AZ:availability_zone"]
    assert md["launch_index"] == server["OS-EXT-SRV-ATTR:launch_index"] == 0
    assert md["meta"] == {"role": "web", "tier": "front"} == server["properties"]
    assert md["public_keys"] == {key[0]: key[1]}
    assert md["keys"] == [{"name": key[0], "type": "ssh", "data": key[1]}]
    assert len(base64.b64decode(md["random_seed"])) == 512
    assert md["devices"] == []
    old = proxy.json("/openstack/2012-08-10/meta_data.json", server)
    assert "random_seed" not in old and "project_id" not in old and old["uuid"] == server["id"]
    assert proxy.get("/openstack/latest/user_data", server).content == USER_DATA
    assert proxy.json("/openstack/latest/vendor_data2.json", server) == {}
    assert proxy.json("/openstack/latest/vendor_data.json", server) == {}
    network = proxy.json("/openstack/latest/network_data.json", server)
    assert set(network) == {"links", "networks", "services"}


def test_ec2_tree_matches_the_api(
    proxy: Proxy, server: dict[str, Any], image: str, key: tuple[str, str]
) -> None:
    versions = proxy.http.get("/").text.splitlines()  # no identity needed, as in Nova
    assert versions[0] == "1.0" and versions[-1] == "latest"
    assert proxy.text("/latest/", server).splitlines() == ["meta-data/", "user-data"]
    tree = proxy.text("/latest/meta-data/", server).splitlines()
    for name in ("ami-id", "instance-id", "hostname", "local-hostname", "local-ipv4",
                 "public-ipv4", "public-keys/", "placement/", "block-device-mapping/",
                 "security-groups", "reservation-id", "instance-type", "ami-launch-index",
                 "instance-action"):  # fmt: skip
        assert name in tree, (name, tree)
    assert tree == sorted(tree)
    md = "/latest/meta-data"
    hostname = server["OS-EXT-SRV-ATTR:hostname"]
    assert proxy.text(f"{md}/hostname", server) == hostname
    assert proxy.text(f"{md}/local-hostname", server) == hostname
    assert proxy.text(f"{md}/instance-id", server).startswith("i-")
    assert proxy.text(f"{md}/ami-id", server) == f"ami-{image.replace('-', '')[:8]}"
    assert proxy.text(f"{md}/instance-type", server) == server["flavor"]["original_name"]
    assert proxy.text(f"{md}/reservation-id", server) == server["OS-EXT-SRV-ATTR:reservation_id"]
    assert proxy.text(f"{md}/ami-launch-index", server) == "0"
    assert proxy.text(f"{md}/instance-action", server) == "none"
    zone = server["OS-EXT-AZ:availability_zone"]
    assert proxy.text(f"{md}/placement/", server) == "availability-zone"
    assert proxy.text(f"{md}/placement/availability-zone", server) == zone
    groups = [g["name"] for g in server["security_groups"]]
    assert proxy.text(f"{md}/security-groups", server).splitlines() == groups
    assert proxy.text(f"{md}/public-keys/", server) == f"0={key[0]}"
    assert proxy.text(f"{md}/public-keys/0/", server) == "openssh-key"
    assert proxy.text(f"{md}/public-keys/0/openssh-key", server) == key[1]
    mapping = proxy.text(f"{md}/block-device-mapping/", server).splitlines()
    assert mapping == ["ami", "root"]
    assert proxy.text(f"{md}/block-device-mapping/root", server) == "/dev/vda"
    assert proxy.get("/latest/user-data", server).content == USER_DATA
    old = proxy.text("/1.0/meta-data/", server).splitlines()
    assert "placement/" not in old and "instance-id" in old


def test_paths_methods_and_missing_user_data(
    proxy: Proxy, server: dict[str, Any], other: dict[str, Any], cloud: Cloud, image: str
) -> None:
    for path in ("/latest/meta-data/nothing", "/2001-01-01/meta-data/", "/openstack/1999-01-01/",
                 "/openstack/latest/nothing.json", "/latest/meta-data/hostname/extra"):  # fmt: skip
        assert proxy.get(path, server).status_code == 404, path
    headers = proxy.headers(server["id"], server["project_id"])
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = proxy.http.request(method, "/openstack/latest/meta_data.json", headers=headers)
        assert r.status_code == 405, (method, r.text)
    head = proxy.http.head("/latest/meta-data/hostname", headers=headers)
    assert head.status_code == 200 and head.content == b""
    assert proxy.text("/latest/meta-data/hostname/", server)  # a leaf reads with a slash too
    # the admin's server booted without user data? it has some; a server without any:
    plain = osc(cloud, "server", "create", "--flavor", "m1.tiny", "--image", image, "--wait",
                f"md-plain-{uuid.uuid4().hex[:6]}")  # fmt: skip
    try:
        shown = admin_view(cloud, plain["id"])
        assert proxy.get("/latest/user-data", shown).status_code == 404
        assert proxy.get("/openstack/latest/user_data", shown).status_code == 404
        assert "user-data" not in proxy.text("/latest/", shown).splitlines()
        assert "user_data" not in proxy.text("/openstack/latest", shown).splitlines()
    finally:
        cloud.cli("server", "delete", "--wait", plain["id"], cloud="stratus-demo", check=False)


def test_signature_and_tenant_are_checked(
    proxy: Proxy, server: dict[str, Any], other: dict[str, Any]
) -> None:
    path = "/openstack/latest/meta_data.json"
    wrong = hmac.new(b"not the secret", server["id"].encode(), hashlib.sha256).hexdigest()
    assert proxy.get(path, server, signature=wrong).status_code == 403
    assert proxy.get(path, server, signature="").status_code == 403
    signed_other = proxy.headers(other["id"], other["project_id"])["X-Instance-ID-Signature"]
    assert proxy.get(path, server, signature=signed_other).status_code == 403
    unsigned = {"X-Instance-ID": server["id"], "X-Tenant-ID": server["project_id"]}
    assert proxy.http.get(path, headers=unsigned).status_code == 403
    assert proxy.http.get(path).status_code == 400  # no identity at all
    twice = [*proxy.headers(server["id"], server["project_id"]).items(), ("X-Instance-ID", "x")]
    assert proxy.http.get(path, headers=twice).status_code == 400
    # correctly signed, but the proxy's tenant does not own the instance
    mismatched = proxy.headers(other["id"], server["project_id"])
    r = proxy.http.get(path, headers=mismatched)
    assert r.status_code == 404 and other["id"] not in r.text
    unknown = str(uuid.uuid4())
    assert (
        proxy.http.get(path, headers=proxy.headers(unknown, server["project_id"])).status_code
        == 404
    )
    # each instance sees its own data, never the other's
    mine, theirs = proxy.json(path, server), proxy.json(path, other)
    assert mine["uuid"] == server["id"] and theirs["uuid"] == other["id"]
    assert theirs["meta"] == {"role": "db"} and "public_keys" not in theirs
    assert proxy.text("/latest/meta-data/hostname", other) == other["OS-EXT-SRV-ATTR:hostname"]


def test_deleted_server_is_not_found(
    proxy: Proxy, cloud: Cloud, image: str, tmp_path: Path
) -> None:
    made = boot(cloud, image, tmp_path)
    shown = admin_view(cloud, made)
    cloud.cli("server", "delete", "--wait", made, cloud="stratus-demo")
    r = proxy.get("/openstack/latest/meta_data.json", shown)
    assert r.status_code == 404 and made not in r.text
    assert proxy.get("/latest/meta-data/instance-id", shown).status_code == 404


def record_from_api(server: dict[str, Any], key: tuple[str, str], image: str) -> InstanceMetadata:
    """The instance's record as the API shows it, to build a drive the service must match."""
    return InstanceMetadata(
        uuid=server["id"], name=server["name"], hostname=server["OS-EXT-SRV-ATTR:hostname"],
        project_id=server["project_id"], availability_zone=server["OS-EXT-AZ:availability_zone"],
        launch_index=server["OS-EXT-SRV-ATTR:launch_index"],
        reservation_id=server["OS-EXT-SRV-ATTR:reservation_id"], key_name=key[0],
        public_key=key[1], user_data=base64.b64encode(USER_DATA).decode(),
        metadata=server["properties"], image_id=image,
        flavor_name=server["flavor"]["original_name"],
        security_groups=[g["name"] for g in server["security_groups"]],
        block_devices=[BlockDevice(name="ami", device="vda"),
                       BlockDevice(name="root", device="/dev/vda")],
    )  # fmt: skip


def read_iso(iso: Path, into: Path) -> str:
    """Extract the ISO with xorriso; return its volume label (from the primary volume
    descriptor: sector 16, bytes 40..72)."""
    subprocess.run(
        ["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/", str(into)],
        check=True,
        capture_output=True,
    )
    with iso.open("rb") as fh:
        fh.seek(16 * 2048)
        pvd = fh.read(2048)
    assert pvd[1:6] == b"CD001"
    return pvd[40:72].decode().strip()


def without_seed(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "random_seed"}


def ec2_walk(proxy: Proxy, server: dict[str, Any], path: str) -> dict[str, Any]:
    """The service's EC2 meta-data tree as one JSON document (the drive's shape)."""
    doc: dict[str, Any] = {}
    for line in proxy.text(path, server).splitlines():
        name = line.split("=", 1)[0].rstrip("/")
        if line.endswith("/") or "=" in line:
            doc[name] = ec2_walk(proxy, server, f"{path}{name}/")
            if "=" in line:
                doc[name]["_name"] = line
        else:
            body = proxy.text(f"{path}{name}", server)
            doc[name] = body.splitlines() if name == "security-groups" else body
    return doc


async def test_config_drive_holds_what_the_service_serves(
    proxy: Proxy, server: dict[str, Any], key: tuple[str, str], image: str, tmp_path: Path
) -> None:
    assert server["config_drive"] == "True"
    iso = tmp_path / "disk.config"
    await build_config_drive(record_from_api(server, key, image), iso)
    root = tmp_path / "extracted"
    assert read_iso(iso, root) == "config-2"
    latest = root / "openstack" / "latest"
    on_drive = json.loads((latest / "meta_data.json").read_text())
    served = proxy.json("/openstack/latest/meta_data.json", server)
    assert without_seed(on_drive) == without_seed(served)
    for name in ("network_data.json", "vendor_data.json", "vendor_data2.json"):
        assert json.loads((latest / name).read_text()) == proxy.json(
            f"/openstack/latest/{name}", server
        )
    assert (latest / "user_data").read_bytes() == USER_DATA
    assert (root / "openstack" / "2012-08-10" / "meta_data.json").exists()
    ec2 = json.loads((root / "ec2" / "latest" / "meta-data.json").read_text())
    assert ec2 == ec2_walk(proxy, server, "/latest/meta-data/")
    assert (root / "ec2" / "latest" / "user-data").read_bytes() == USER_DATA


def test_config_drive_flag_is_validated_and_shown(cloud: Cloud, image: str) -> None:
    with client(cloud, "stratus-demo") as demo:
        body = {"name": "md-bad", "imageRef": image, "flavorRef": "1", "networks": "none",
                "config_drive": "maybe"}  # fmt: skip
        r = demo.post("/servers", json={"server": body})
        assert "config_drive" in fault(r, 400, "badRequest")
        plain = demo.post("/servers", json={"server": body | {"config_drive": False}})
        assert plain.status_code == 202, plain.text
        server = plain.json()["server"]["id"]
        try:
            assert demo.get(f"/servers/{server}").json()["server"]["config_drive"] == ""
        finally:
            demo.delete(f"/servers/{server}")

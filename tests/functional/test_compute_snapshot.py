"""Create image (server snapshot) under ``stratus up``: the API makes the image record,
the conductor sends the fake host to write the server's disk, the agent uploads it to
the image service with the caller's token. Driven by the real ``openstack`` CLI and
openstacksdk; ``qemu-img`` reads what was uploaded."""

from __future__ import annotations

import hashlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
from compute_clients import client, fault, lift_quotas, set_state, unique

from cloudproc import Cloud, free_port

pytestmark = [
    # openstacksdk warns about its own deprecated internals
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
DEADLINE = 60.0  # bound on a poll, never an expectation of speed
DEMO = "stratus-demo"


def qemu_img(*args: str) -> str:
    done = subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    return done.stdout


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def base_image(cloud: Cloud, root: Path, disk_format: str) -> str:
    """A public source image made by the admin: an empty qcow2 of 64 MiB, or raw zeros."""
    disk = root / f"base.{disk_format}"
    if disk_format == "qcow2":
        qemu_img("create", "-f", "qcow2", str(disk), "64M")
    else:
        disk.write_bytes(b"\0" * 65536)
    made = cloud.openstack(
        "image", "create", "--disk-format", disk_format, "--container-format", "bare",
        "--file", str(disk), "--public", "--property", "os_distro=fakeos",
        "--min-ram", "64", unique("base"), "-f", "json",
    )  # fmt: skip
    return str(made["id"])


@pytest.fixture(scope="module")
def bases(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    lift_quotas(cloud)
    root = tmp_path_factory.mktemp("snapshot-bases")
    return {fmt: base_image(cloud, root, fmt) for fmt in ("qcow2", "raw")}


def boot(cloud: Cloud, image: str, *, who: str = DEMO, flavor: str = "m1.tiny") -> str:
    made = cloud.openstack(
        "server", "create", "--flavor", flavor, "--image", image, "--nic", "none", "--wait",
        unique("snap-src"), "-f", "json", cloud=who,
    )  # fmt: skip
    assert made["status"] == "ACTIVE", made
    return str(made["id"])


def snapshot(cloud: Cloud, server: str, *extra: str, who: str = DEMO) -> dict[str, Any]:
    made: dict[str, Any] = cloud.openstack(
        "server", "image", "create", "--wait", "--name", unique("snap"), *extra, server,
        "-f", "json", cloud=who,
    )  # fmt: skip
    return made


def image_of(cloud: Cloud, image_id: str, who: str = DEMO) -> dict[str, Any]:
    shown: dict[str, Any] = cloud.openstack("image", "show", image_id, "-f", "json", cloud=who)
    return shown


def server_of(http: httpx.Client, server: str) -> dict[str, Any]:
    r = http.get(f"/servers/{server}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["server"]
    return found


def wait_idle(http: httpx.Client, server: str) -> dict[str, Any]:
    """The server once no task runs on it any more."""
    deadline = time.monotonic() + DEADLINE
    while (shown := server_of(http, server))["OS-EXT-STS:task_state"] is not None:
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    return shown


def snapshot_events(http: httpx.Client, server: str) -> list[dict[str, Any]]:
    """The ``compute_snapshot_instance`` events of the server's createImage actions."""
    actions = http.get(f"/servers/{server}/os-instance-actions").json()["instanceActions"]
    found = []
    for action in actions:
        if action["action"] != "createImage":
            continue
        detail = http.get(f"/servers/{server}/os-instance-actions/{action['request_id']}")
        events = detail.json()["instanceAction"]["events"]
        found += [e for e in events if e["event"] == "compute_snapshot_instance"]
    return found


def snapshot_files(cloud: Cloud) -> list[Path]:
    """Files left in the agents' snapshot directories (each upload deletes its own)."""
    return [p for p in (cloud.state_dir / "compute-snapshots").rglob("*") if p.is_file()]


def no_image(cloud: Cloud, image_id: str, who: str = "stratus-admin") -> bool:
    shown = cloud.cli("image", "show", image_id, cloud=who, check=False)
    return shown.returncode != 0 and ("No Image found" in shown.stderr or "404" in shown.stderr)


@pytest.mark.parametrize("disk_format", ["qcow2", "raw"])
def test_snapshot_becomes_an_active_image_of_the_servers_project(
    cloud: Cloud, bases: dict[str, str], disk_format: str, tmp_path: Path
) -> None:
    base = bases[disk_format]
    server = boot(cloud, base)
    made = snapshot(cloud, server, "--property", "purpose=backup")
    assert made["status"] == "active", made
    image = image_of(cloud, made["id"])
    assert image["disk_format"] == disk_format and image["container_format"] == "bare"
    assert image["size"] > 0 and image["min_ram"] == 64
    demo_project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    assert image["owner"] == demo_project
    props = image["properties"]
    assert props["instance_uuid"] == server and props["image_type"] == "snapshot"
    assert props["base_image_ref"] == base and props["purpose"] == "backup"
    assert props["os_distro"] == "fakeos"  # inherited from the source, as Nova does
    assert not any(k.startswith("owner_specified.") for k in props)  # the source file's

    saved = tmp_path / "saved"
    cloud.cli("image", "save", "--file", str(saved), made["id"], cloud=DEMO)
    assert md5_of(saved) == image["checksum"]
    assert saved.stat().st_size == image["size"]
    if disk_format == "qcow2":
        assert "No errors" in qemu_img("check", str(saved))
        qemu_img("convert", "-f", "qcow2", "-O", "raw", str(saved), str(tmp_path / "disk"))
        saved = tmp_path / "disk"
    assert saved.read_bytes().startswith(f"fake disk of {server}".encode())

    with client(cloud, DEMO) as demo:
        shown = wait_idle(demo, server)
        assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:task_state"] is None
        assert [e["result"] for e in snapshot_events(demo, server)] == ["Success"]
    assert snapshot_files(cloud) == []


@pytest.fixture(scope="module")
def demo_snapshot(cloud: Cloud, bases: dict[str, str]) -> tuple[str, str]:
    server = boot(cloud, bases["qcow2"])
    return server, str(snapshot(cloud, server)["id"])


@pytest.fixture
def outsider(cloud: Cloud) -> Iterator[openstack.connection.Connection]:
    """A member of a project of its own, through openstacksdk."""
    password = uuid.uuid4().hex
    project = cloud.openstack("project", "create", "-f", "json", unique("snap-p"))
    user = cloud.openstack("user", "create", "--password", password, "--project",
                           project["id"], "-f", "json", unique("snap-u"))  # fmt: skip
    cloud.openstack("role", "add", "--user", user["id"], "--project", project["id"], "member")
    conn = openstack.connect(
        auth_url=cloud.identity_url, username=user["name"], password=password,
        project_id=project["id"], user_domain_id="default", region_name="RegionOne",
    )  # fmt: skip
    try:
        yield conn
    finally:
        conn.close()
        cloud.openstack("user", "delete", user["id"], check=False)
        cloud.openstack("project", "delete", project["id"], check=False)


def test_another_project_cannot_see_the_snapshot(
    demo_snapshot: tuple[str, str], outsider: openstack.connection.Connection
) -> None:
    _, image_id = demo_snapshot
    assert image_id not in [i.id for i in outsider.image.images()]
    assert outsider.image.find_image(image_id) is None
    with pytest.raises(openstack.exceptions.NotFoundException):
        outsider.image.get_image(image_id)


def test_a_server_boots_from_its_snapshot(cloud: Cloud, demo_snapshot: tuple[str, str]) -> None:
    _, image_id = demo_snapshot
    server = boot(cloud, image_id)
    shown = cloud.openstack("server", "show", server, "-f", "json", cloud=DEMO)
    assert shown["status"] == "ACTIVE"
    assert image_id in str(shown["image"])
    cloud.cli("server", "delete", "--wait", server, cloud=DEMO)


def test_an_admins_snapshot_of_a_projects_server_belongs_to_that_project(
    cloud: Cloud, demo_snapshot: tuple[str, str]
) -> None:
    server, _ = demo_snapshot
    made = snapshot(cloud, server, who="stratus-admin")
    image = image_of(cloud, made["id"])  # the demo member sees and owns it
    assert image["status"] == "active"
    assert image["owner"] == cloud.openstack("project", "show", "demo", "-f", "json")["id"]


@pytest.fixture
def failed_server(cloud: Cloud, bases: dict[str, str]) -> Iterator[str]:
    """A demo server in ERROR: its flavor's RAM fits no host, so it was never built."""
    flavor = unique("huge")
    cloud.openstack("flavor", "create", "--vcpus", "1", "--ram", str(1 << 20), "--disk", "1",
                    flavor)  # fmt: skip
    made = cloud.openstack(
        "server", "create", "--flavor", flavor, "--image", bases["raw"], "--nic", "none",
        unique("nohost"), "-f", "json", cloud=DEMO,
    )  # fmt: skip
    with client(cloud, DEMO) as demo:
        deadline = time.monotonic() + DEADLINE
        while (status := server_of(demo, made["id"])["status"]) != "ERROR":
            assert status == "BUILD" and time.monotonic() < deadline, status
            time.sleep(0.1)
    try:
        yield str(made["id"])
    finally:
        cloud.cli("server", "delete", "--wait", made["id"], cloud=DEMO, check=False)
        cloud.cli("flavor", "delete", flavor, check=False)


def test_a_state_that_forbids_snapshots_is_a_409_and_makes_no_image(
    cloud: Cloud, failed_server: str
) -> None:
    with client(cloud, DEMO) as demo:
        r = demo.post(f"/servers/{failed_server}/action",
                      json={"createImage": {"name": unique("never")}})  # fmt: skip
        message = fault(r, 409, "conflictingRequest")
        assert "while it is in vm_state error" in message
    refused = cloud.cli("server", "image", "create", "--name", unique("never"), failed_server,
                        cloud=DEMO, check=False)  # fmt: skip
    assert refused.returncode != 0 and "409" in refused.stderr
    made = cloud.openstack("image", "list", "--property", f"instance_uuid={failed_server}",
                           "-f", "json")  # fmt: skip
    assert made == []


def test_a_server_on_no_host_ends_the_snapshot_with_an_error(
    cloud: Cloud, failed_server: str
) -> None:
    set_state(cloud, failed_server, "active")  # allowed now, but no host holds its disk
    with client(cloud, DEMO) as demo:
        r = demo.post(f"/servers/{failed_server}/action",
                      json={"createImage": {"name": unique("lost")}})  # fmt: skip
        assert r.status_code == 202, r.text
        image_id = r.json()["image_id"]
        shown = wait_idle(demo, failed_server)
        assert shown["OS-EXT-STS:vm_state"] == "active"
    with client(cloud, "stratus-admin") as admin:
        (event,) = snapshot_events(admin, failed_server)
    assert event["result"] == "Error" and "on no host" in event["traceback"]
    assert no_image(cloud, image_id)


KiB = 1024


@pytest.fixture(scope="module")
def tight_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A cloud whose image byte quota holds an empty qcow2 source but no snapshot of it,
    logging everything."""
    state_dir: Path = tmp_path_factory.mktemp("snapshot-quota") / "state"
    env = {"STRATUS_IMAGE__QUOTA_IMAGE_BYTES": str(300 * KiB), "STRATUS_LOG_LEVEL": "DEBUG"}
    cloud = Cloud(state_dir=state_dir, identity_port=free_port(), extra_env=env)
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


def test_a_refused_upload_deletes_the_image_and_leaves_the_server_as_it_was(
    tight_cloud: Cloud, tmp_path: Path
) -> None:
    cloud = tight_cloud
    server = boot(cloud, base_image(cloud, tmp_path, "qcow2"))
    cloud.cli("server", "stop", server, cloud=DEMO)
    with client(cloud, DEMO) as demo:
        token = demo.headers["X-Auth-Token"]
        deadline = time.monotonic() + DEADLINE
        while server_of(demo, server)["status"] != "SHUTOFF":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = demo.post(f"/servers/{server}/action", json={"createImage": {"name": "big"}})
        assert r.status_code == 202, r.text
        image_id = r.json()["image_id"]
        shown = wait_idle(demo, server)
        assert shown["status"] == "SHUTOFF"  # back where it was, no task
    with client(cloud, "stratus-admin") as admin:
        (event,) = snapshot_events(admin, server)
    assert event["result"] == "Error" and "413" in event["traceback"], event
    assert no_image(cloud, image_id)
    assert snapshot_files(cloud) == []
    # the token went from the API to the agent, and nowhere into a log
    logs = (cloud.state_dir / "stratus.log").read_text() + cloud.log_path.read_text()
    assert token not in logs

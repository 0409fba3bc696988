"""The image service under ``stratus up``, driven by the real ``openstack`` CLI and
openstacksdk: upload, download, visibility, sharing, protection and refused content."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudproc import Cloud

MiB = 1 << 20
pytestmark = [
    # openstacksdk warns about its own deprecated internals
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True, timeout=120)


def name() -> str:
    return f"img-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def qcow2_200m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real qcow2 of about 200 MiB: random data converted by qemu-img."""
    root = tmp_path_factory.mktemp("qcow2")
    raw = root / "data.raw"
    with raw.open("wb") as f:
        for _ in range(200):
            f.write(os.urandom(MiB))
    image = root / "disk.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", str(raw), str(image))
    raw.unlink()
    yield image
    image.unlink()


def create(cloud: Cloud, *args: str, who: str = "stratus-admin") -> dict[str, Any]:
    shown: dict[str, Any] = cloud.openstack("image", "create", *args, "-f", "json", cloud=who)
    return shown


def test_cli_upload_list_show_save_of_a_200mib_qcow2(
    cloud: Cloud, qcow2_200m: Path, tmp_path: Path
) -> None:
    image_name = name()
    shown = create(
        cloud, "--disk-format", "qcow2", "--container-format", "bare",
        "--file", str(qcow2_200m), image_name,
    )  # fmt: skip
    assert shown["status"] == "active"
    assert shown["checksum"] == md5_of(qcow2_200m)
    assert shown["size"] == qcow2_200m.stat().st_size
    assert shown["virtual_size"] == 200 * MiB
    listed = cloud.openstack("image", "list", "--name", image_name, "-f", "json")
    assert [i["ID"] for i in listed] == [shown["id"]]
    again = cloud.openstack("image", "show", shown["id"], "-f", "json")
    assert again["disk_format"] == "qcow2"
    assert again["properties"]["os_hash_algo"] == "sha512"
    saved = tmp_path / "saved.qcow2"
    cloud.cli("image", "save", "--file", str(saved), shown["id"])
    assert md5_of(saved) == md5_of(qcow2_200m)
    cloud.cli("image", "delete", shown["id"])
    assert cloud.cli("image", "show", shown["id"], check=False).returncode != 0


def test_sdk_round_trip_and_range_download(cloud: Cloud, tmp_path: Path) -> None:
    conn = cloud.sdk("stratus-demo")
    data = os.urandom(3 * MiB + 17)
    source = tmp_path / "kernel"
    source.write_bytes(data)
    with source.open("rb") as f:
        image = conn.image.create_image(
            name=name(), data=f, disk_format="aki", container_format="aki",
            visibility="private", architecture="x86_64", hw_disk_bus="virtio",
        )  # fmt: skip
    image = conn.image.get_image(image.id)
    assert image.status == "active" and image.checksum == hashlib.md5(data).hexdigest()
    assert (image.architecture, image.hw_disk_bus) == ("x86_64", "virtio")
    body = conn.image.download_image(image)
    assert body.content == data
    token = conn.session.get_token()
    ranged = httpx.get(
        f"{cloud.image_url}/v2/images/{image.id}/file",
        headers={"X-Auth-Token": token, "Range": "bytes=10-19"},
    )
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"
    bad = httpx.get(
        f"{cloud.image_url}/v2/images/{image.id}/file",
        headers={"X-Auth-Token": token, "Range": f"bytes={len(data)}-"},
    )
    assert bad.status_code == 416
    conn.image.delete_image(image)


def test_private_images_are_invisible_to_other_projects(cloud: Cloud, tmp_path: Path) -> None:
    (tmp_path / "raw").write_bytes(b"\0" * 4096)
    private = create(
        cloud, "--private", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(tmp_path / "raw"), name(),
    )  # fmt: skip
    demo_list = cloud.openstack("image", "list", "-f", "json", cloud="stratus-demo")
    assert private["id"] not in [i["ID"] for i in demo_list]
    shown = cloud.cli("image", "show", private["id"], cloud="stratus-demo", check=False)
    assert (shown.returncode != 0 and "No Image found" in shown.stderr) or "404" in shown.stderr
    deleted = cloud.cli("image", "delete", private["id"], cloud="stratus-demo", check=False)
    assert deleted.returncode != 0
    assert cloud.openstack("image", "show", private["id"], "-f", "json")["status"] == "active"


def test_sharing_with_a_member_project(cloud: Cloud, tmp_path: Path) -> None:
    (tmp_path / "raw").write_bytes(b"\1" * 4096)
    shared = create(
        cloud, "--shared", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(tmp_path / "raw"), name(),
    )  # fmt: skip
    demo = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    listed = cloud.openstack("image", "list", "-f", "json", cloud="stratus-demo")
    assert shared["id"] not in [i["ID"] for i in listed]
    cloud.cli("image", "add", "project", shared["id"], demo)
    # pending: visible by id, not yet listed
    cloud.cli("image", "show", shared["id"], cloud="stratus-demo")
    listed = cloud.openstack("image", "list", "-f", "json", cloud="stratus-demo")
    assert shared["id"] not in [i["ID"] for i in listed]
    cloud.cli("image", "set", "--accept", shared["id"], cloud="stratus-demo")
    listed = cloud.openstack("image", "list", "-f", "json", cloud="stratus-demo")
    assert shared["id"] in [i["ID"] for i in listed]
    saved = tmp_path / "got"
    cloud.cli("image", "save", "--file", str(saved), shared["id"], cloud="stratus-demo")
    assert saved.read_bytes() == b"\1" * 4096
    # a member cannot change the image
    renamed = cloud.cli(
        "image", "set", "--name", "x", shared["id"], cloud="stratus-demo", check=False
    )
    assert renamed.returncode != 0


def test_protected_images_cannot_be_deleted(cloud: Cloud) -> None:
    image = create(cloud, "--protected", name())
    refused = cloud.cli("image", "delete", image["id"], check=False)
    assert refused.returncode != 0
    assert cloud.openstack("image", "show", image["id"], "-f", "json")["id"] == image["id"]
    cloud.cli("image", "set", "--unprotected", image["id"])
    cloud.cli("image", "delete", image["id"])


def test_raw_data_declared_as_qcow2_is_refused(cloud: Cloud, tmp_path: Path) -> None:
    raw = tmp_path / "plain.raw"
    raw.write_bytes(os.urandom(MiB))
    image_name = name()
    refused = cloud.cli(
        "image", "create", "--disk-format", "qcow2", "--container-format", "bare",
        "--file", str(raw), image_name, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "not the declared disk_format qcow2" in refused.stderr
    left = cloud.openstack("image", "list", "--name", image_name, "--long", "-f", "json")
    assert all(i["Status"] == "queued" and not i["Checksum"] for i in left)


def test_qcow2_with_a_backing_file_is_refused(cloud: Cloud, tmp_path: Path) -> None:
    base, overlay = tmp_path / "base.qcow2", tmp_path / "overlay.qcow2"
    qemu_img("create", "-f", "qcow2", str(base), "16M")
    qemu_img("create", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(overlay))
    refused = cloud.cli(
        "image", "create", "--disk-format", "qcow2", "--container-format", "bare",
        "--file", str(overlay), name(), check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "backing file" in refused.stderr

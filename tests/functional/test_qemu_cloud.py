"""A real virtual machine through the real ``openstack`` CLI on ``stratus up`` with the
``qemu`` driver (TCG on this machine): ``stratus up`` builds the guest image from Debian
packages and publishes it (a kernel, a ramdisk and a disk naming them), a server boots
from it with user data and a config drive, and its console shows its own id, its
hostname and its user-data script's output; stop really stops the guest, start boots it again, and
delete leaves no QEMU process behind.

(Networking of real guests is tested in tests/integration/test_guest_image.py; the
data plane's own tests cover DHCP and the metadata proxy.)
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudproc import Cloud, free_port
from stratus.guestimage.scripts import MARKER

DEMO = "stratus-demo"
BOOT_WAIT = 600.0  # a bound on a TCG boot, never an expectation of speed


@pytest.fixture(scope="module")
def qemu_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("qemu-cloud") / "state"
    cloud = Cloud(state_dir=state_dir, identity_port=free_port(),
                  extra_env={"STRATUS_COMPUTE__DRIVER": "qemu"})  # fmt: skip
    cloud.start(timeout=180)
    try:
        yield cloud
    finally:
        cloud.stop()
        assert qemu_processes(state_dir) == [], "a QEMU process outlived its cloud"


def qemu_processes(state_dir: Path) -> list[str]:
    found = subprocess.run(
        ["pgrep", "-af", "qemu-system"], check=False, capture_output=True, text=True
    )
    return [line for line in found.stdout.splitlines() if str(state_dir) in line]


def osc(cloud: Cloud, *args: str, who: str = DEMO) -> Any:
    return cloud.openstack(*args, "-f", "json", cloud=who)


@pytest.fixture(scope="module")
def image(qemu_cloud: Cloud) -> str:
    """The guest image ``stratus up`` publishes by itself on the qemu driver."""
    deadline = time.monotonic() + BOOT_WAIT
    while time.monotonic() < deadline:
        found = osc(qemu_cloud, "image", "list", "--name", "stratus-guest")
        if found and found[0]["Status"] == "active":
            shown = osc(qemu_cloud, "image", "show", found[0]["ID"])
            assert shown["visibility"] == "public"
            assert {"kernel_id", "ramdisk_id"} <= set(shown["properties"])
            return str(found[0]["ID"])
        time.sleep(2)
    raise AssertionError(f"stratus up did not publish its guest image:\n{qemu_cloud.output()}")


def console_until(cloud: Cloud, server_id: str, needle: str, count: int = 1) -> str:
    deadline = time.monotonic() + BOOT_WAIT
    text = ""
    while time.monotonic() < deadline:
        text = cloud.cli("console", "log", "show", server_id, cloud=DEMO).stdout
        if text.count(needle) >= count:
            return text
        time.sleep(2)
    raise AssertionError(f"{needle!r} x{count} not on the console:\n{text[-3000:]}")


def test_a_real_vm_boots_reads_its_config_drive_and_follows_its_state(
    qemu_cloud: Cloud, image: str, tmp_path: Path
) -> None:
    script = tmp_path / "user-data"
    script.write_text("#!/bin/sh\necho user-data-ran-$(hostname)\n")
    server = osc(qemu_cloud, "server", "create", "--image", image, "--flavor", "m1.tiny",
                 "--nic", "none", "--config-drive", "True", "--user-data", str(script),
                 "vm-one")  # fmt: skip
    sid = server["id"]
    wait_status(qemu_cloud, sid, "ACTIVE")
    shown = osc(qemu_cloud, "server", "show", sid, who="stratus-admin")
    assert shown["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    text = console_until(qemu_cloud, sid, MARKER)
    assert f"{MARKER} instance={sid} hostname=vm-one" in text
    assert "user-data-ran-vm-one" in text
    assert len(qemu_processes(qemu_cloud.state_dir)) == 1

    qemu_cloud.openstack("server", "stop", sid, cloud=DEMO)
    wait_status(qemu_cloud, sid, "SHUTOFF")
    assert qemu_processes(qemu_cloud.state_dir) == []  # the guest is really off
    qemu_cloud.openstack("server", "start", sid, cloud=DEMO)
    wait_status(qemu_cloud, sid, "ACTIVE")
    console_until(qemu_cloud, sid, f"{MARKER} instance={sid}", count=2)  # booted again

    qemu_cloud.openstack("server", "delete", sid, cloud=DEMO)
    wait_gone(qemu_cloud, sid)
    assert qemu_processes(qemu_cloud.state_dir) == []


def wait_status(cloud: Cloud, server_id: str, status: str) -> None:
    deadline = time.monotonic() + BOOT_WAIT
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = osc(cloud, "server", "show", server_id)
        if shown["status"] == status:
            return
        assert shown["status"] != "ERROR", shown.get("fault")
        time.sleep(1)
    raise AssertionError(f"server {server_id} never reached {status}: {shown}")


def wait_gone(cloud: Cloud, server_id: str) -> None:
    deadline = time.monotonic() + BOOT_WAIT
    while time.monotonic() < deadline:
        if cloud.cli("server", "show", server_id, cloud=DEMO, check=False).returncode != 0:
            return
        time.sleep(1)
    raise AssertionError(f"server {server_id} was never deleted")

"""A server's whole life through the real ``openstack`` CLI under ``stratus up``: the
API, conductor, scheduler and a fake compute host working together (the fake driver:
servers are simulated, the control plane is real)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from cloudproc import Cloud

DEADLINE = 60.0


@pytest.fixture(scope="module")
def image(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    disk = tmp_path_factory.mktemp("lifecycle") / "disk.raw"
    disk.write_bytes(b"\0" * (1 << 20))
    made = cloud.openstack(
        "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--file", str(disk), "--public", f"lifecycle-{uuid.uuid4().hex[:6]}", "-f", "json",
    )  # fmt: skip
    return str(made["id"])


def show(cloud: Cloud, server: str) -> dict[str, Any]:
    shown: dict[str, Any] = cloud.openstack(
        "server", "show", server, "-f", "json", cloud="stratus-demo"
    )
    return shown


def wait_status(cloud: Cloud, server: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while (shown := show(cloud, server))["status"] != status:
        assert time.monotonic() < deadline, json.dumps(shown)[:3000]
        time.sleep(0.2)
    return shown


def test_create_act_and_delete_with_the_cli(cloud: Cloud, image: str) -> None:
    name = f"life-{uuid.uuid4().hex[:6]}"
    made = cloud.openstack(
        "server", "create", "--flavor", "m1.tiny", "--image", image, "--wait", name,
        "-f", "json", cloud="stratus-demo",
    )  # fmt: skip
    assert made["status"] == "ACTIVE"
    server = made["id"]
    steps = [
        (("server", "stop", server), "SHUTOFF"),
        (("server", "start", server), "ACTIVE"),
        (("server", "reboot", "--hard", server), "ACTIVE"),
        (("server", "pause", server), "PAUSED"),
        (("server", "unpause", server), "ACTIVE"),
        (("server", "suspend", server), "SUSPENDED"),
        (("server", "resume", server), "ACTIVE"),
    ]
    for command, status in steps:
        cloud.cli(*command, cloud="stratus-demo")
        wait_status(cloud, server, status)
    # an action the state machine refuses: Nova's 409
    refused = cloud.cli("server", "unpause", server, cloud="stratus-demo", check=False)
    assert refused.returncode != 0 and "409" in refused.stderr
    log = cloud.cli("console", "log", "show", server, cloud="stratus-demo").stdout
    assert name in log
    actions = cloud.openstack("server", "event", "list", server, "-f", "json", cloud="stratus-demo")
    assert {"create", "stop", "start", "pause", "suspend"} <= {a["Action"] for a in actions}
    cloud.cli("server", "delete", "--wait", server, cloud="stratus-demo")
    gone = cloud.cli("server", "show", server, cloud="stratus-demo", check=False)
    assert gone.returncode != 0


def test_anti_affinity_on_one_host_explains_which_filter_said_no(cloud: Cloud, image: str) -> None:
    group = cloud.openstack(
        "server", "group", "create", "--policy", "anti-affinity", f"g-{uuid.uuid4().hex[:6]}",
        "-f", "json", cloud="stratus-demo",
    )  # fmt: skip
    servers = []
    for i in range(2):
        made = cloud.openstack(
            "server", "create", "--flavor", "m1.tiny", "--image", image,
            "--hint", f"group={group['id']}", f"apart-{i}", "-f", "json", cloud="stratus-demo",
        )  # fmt: skip
        servers.append(made["id"])
    first = wait_status(cloud, servers[0], "ACTIVE")
    second = wait_status(cloud, servers[1], "ERROR")
    assert first["status"] == "ACTIVE"
    fault = second["fault"] if isinstance(second["fault"], dict) else json.loads(second["fault"])
    assert "ServerGroupAntiAffinityFilter removed 1" in fault["message"], fault
    for server in servers:
        cloud.cli("server", "delete", "--wait", server, cloud="stratus-demo")

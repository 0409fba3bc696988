"""HTTP clients on the compute API for the functional tests (admin and demo tokens)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from cloudproc import Cloud


def token(cloud: Cloud, who: str) -> str:
    issued: dict[str, Any] = cloud.openstack("token", "issue", "-f", "json", cloud=who)
    return str(issued["id"])


def client(cloud: Cloud, who: str, version: str = "2.79") -> httpx.Client:
    headers = {"X-Auth-Token": token(cloud, who), "OpenStack-API-Version": f"compute {version}"}
    return httpx.Client(base_url=f"{cloud.compute_url}/v2.1", headers=headers, timeout=60)


UNLIMITED = {"instances": -1, "cores": -1, "ram": -1}


def lift_quotas(cloud: Cloud) -> None:
    """Let admin and demo create as many servers as the tests need (the quota test sets
    its own limits and puts this back)."""
    with client(cloud, "stratus-admin") as admin:
        for name in ("admin", "demo"):
            project = cloud.openstack("project", "show", name, "-f", "json")["id"]
            r = admin.put(f"/os-quota-sets/{project}", json={"quota_set": UNLIMITED})
            assert r.status_code == 200, r.text


def fault(response: httpx.Response, status: int, name: str) -> str:
    """The message of a Nova fault, after checking its status and name."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == [name], body
    assert body[name]["code"] == status
    return str(body[name]["message"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def small_image(cloud: Cloud, tmp: Path, *flags: str) -> str:
    """A 4 KiB raw image made with the CLI as admin (``flags``: ``--public``...)."""
    data = tmp / "disk.raw"
    data.write_bytes(b"\0" * 4096)
    made = cloud.openstack("image", "create", "--file", str(data), "--disk-format", "raw",
                           *flags, unique("img"), "-f", "json")  # fmt: skip
    return str(made["id"])


def create(http: httpx.Client, image: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": unique("srv"),
        "imageRef": image,
        "flavorRef": "1",
        "networks": "none",
        **fields,
    }
    r = http.post("/servers", json={"server": body})
    assert r.status_code == 202, r.text
    server: dict[str, Any] = r.json()["server"]
    return server


def show(http: httpx.Client, server_id: str) -> dict[str, Any]:
    r = http.get(f"/servers/{server_id}")
    assert r.status_code == 200, r.text
    server: dict[str, Any] = r.json()["server"]
    return server


_CONDUCTOR: dict[str, bool] = {}


def conductor_running(cloud: Cloud) -> bool:
    """Whether a conductor heartbeats in this cloud (then it moves servers on by itself)."""
    key = str(cloud.state_dir)
    if key not in _CONDUCTOR:
        with client(cloud, "stratus-admin") as admin:
            services = admin.get("/os-services", params={"binary": "nova-conductor"})
            _CONDUCTOR[key] = bool(services.json()["services"])
    return _CONDUCTOR[key]


def _task_of(cloud: Cloud, server_id: str) -> str | None:
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        row = db.execute("SELECT task_state FROM instances WHERE id = ?", (server_id,)).fetchone()
    return None if row is None else row[0]


def set_state(cloud: Cloud, server_id: str, vm_state: str, task_state: str | None = None) -> None:
    """Put a server in a state as the conductor would (its only writer besides the API).

    With a conductor running, first wait until it has finished with the server, so that
    none of its writes lands after this one.
    """
    if conductor_running(cloud):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            task = _task_of(cloud, server_id)
            # a task state this helper wrote itself is nobody's work in progress
            if task is None or task == _WRITTEN.get(server_id):
                break
            time.sleep(0.05)
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        db.execute(
            "UPDATE instances SET vm_state = ?, task_state = ? WHERE id = ?",
            (vm_state, task_state, server_id),
        )
    _WRITTEN[server_id] = task_state


# the task state set_state last wrote for each server
_WRITTEN: dict[str, str | None] = {}

"""Nova v2.1 under ``stratus up``: instance actions, server groups, zones, hypervisors,
services and usage, with the real CLI where it covers them.

Compute nodes are written into the cloud's compute database as the conductor writes
them from agents' reports, so the admin views are tested without agents.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from compute_clients import (
    client,
    conductor_running,
    create,
    fault,
    lift_quotas,
    set_state,
    show,
    small_image,
    unique,
)

from cloudproc import Cloud

HOST = f"hv-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def admin(cloud: Cloud) -> Iterator[httpx.Client]:
    lift_quotas(cloud)
    with client(cloud, "stratus-admin") as c:
        yield c


@pytest.fixture(scope="module")
def demo(cloud: Cloud, admin: httpx.Client) -> Iterator[httpx.Client]:
    with client(cloud, "stratus-demo") as c:
        yield c


@pytest.fixture(scope="module")
def image(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    return small_image(cloud, tmp_path_factory.mktemp("img"), "--public")


@pytest.fixture(scope="module")
def node(cloud: Cloud) -> Iterator[str]:
    """A compute node row as the conductor records an agent's report, for a host whose
    agent has been silent for a day: the scheduler never places a server there (so the
    session's other tests are unaffected), and it is removed afterwards."""
    now = dt.datetime.now(dt.UTC)
    seen = (now - dt.timedelta(days=1)).isoformat()
    db_path = cloud.state_dir / "compute.sqlite"
    with sqlite3.connect(db_path, timeout=30) as db:
        db.execute(
            "INSERT INTO compute_nodes (host, hypervisor_hostname, hypervisor_type,"
            " hypervisor_version, cpu_arch, vcpus, memory_mb, local_gb, vcpus_used,"
            " memory_mb_used, local_gb_used, running_vms, availability_zone, disabled,"
            " forced_down, last_seen, created_at)"
            " VALUES (?, ?, 'fake', 1, 'x86_64', 16, 65536, 2000, 2, 1024, 20, 1, 'nova',"
            " 0, 0, ?, ?)",
            (HOST, HOST, seen, now.isoformat()),
        )
    yield HOST
    with sqlite3.connect(db_path, timeout=30) as db:
        db.execute("DELETE FROM resource_claims WHERE host = ?", (HOST,))
        db.execute(
            "UPDATE instances SET vm_state = 'deleted', task_state = NULL WHERE host = ?",
            (HOST,),
        )
        db.execute("DELETE FROM compute_nodes WHERE host = ?", (HOST,))


def test_instance_actions_are_recorded(admin: httpx.Client, demo: httpx.Client, image: str) -> None:
    sid = create(demo, image)["id"]
    demo.put(f"/servers/{sid}", json={"server": {"name": "renamed"}})
    assert demo.post(f"/servers/{sid}/action", json={"lock": None}).status_code == 202
    actions = demo.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions][-2:] == ["lock", "create"]
    create_action = actions[-1]
    assert create_action["instance_uuid"] == sid and create_action["request_id"]
    shown = demo.get(f"/servers/{sid}/os-instance-actions/{create_action['request_id']}")
    assert shown.json()["instanceAction"]["action"] == "create"
    assert isinstance(shown.json()["instanceAction"]["events"], list)
    fault(demo.get(f"/servers/{sid}/os-instance-actions/req-nope"), 404, "itemNotFound")
    page = demo.get(f"/servers/{sid}/os-instance-actions", params={"limit": 1}).json()
    assert len(page["instanceActions"]) == 1 and page["links"][0]["rel"] == "next"
    other = create(admin, image)["id"]
    fault(demo.get(f"/servers/{other}/os-instance-actions"), 404, "itemNotFound")
    demo.post(f"/servers/{sid}/action", json={"unlock": None})


def test_server_groups(cloud: Cloud, admin: httpx.Client, demo: httpx.Client, image: str) -> None:
    made = cloud.openstack(
        "server",
        "group",
        "create",
        "--policy",
        "anti-affinity",
        unique("grp"),
        "-f",
        "json",
        cloud="stratus-demo",
    )
    gid = made["id"]
    group = demo.get(f"/os-server-groups/{gid}").json()["server_group"]
    assert group["policy"] == "anti-affinity" and group["rules"] == {}
    old = demo.get(f"/os-server-groups/{gid}", headers={"OpenStack-API-Version": "compute 2.1"})
    assert old.json()["server_group"]["policies"] == ["anti-affinity"]
    ruled = demo.post(
        "/os-server-groups",
        json={
            "server_group": {
                "name": unique("g"),
                "policy": "anti-affinity",
                "rules": {"max_server_per_host": 2},
            }
        },
    )
    assert ruled.json()["server_group"]["rules"] == {"max_server_per_host": 2}
    fault(
        demo.post(
            "/os-server-groups",
            json={
                "server_group": {
                    "name": "g",
                    "policy": "affinity",
                    "rules": {"max_server_per_host": 2},
                }
            },
        ),
        400,
        "badRequest",
    )
    fault(
        demo.post("/os-server-groups", json={"server_group": {"name": "g", "policy": "closeness"}}),
        400,
        "badRequest",
    )
    r = demo.post(
        "/servers",
        json={
            "server": {
                "name": unique("m"),
                "imageRef": image,
                "flavorRef": "1",
                "networks": "none",
            },
            "os:scheduler_hints": {"group": gid},
        },
    )
    assert r.status_code == 202, r.text
    members = demo.get(f"/os-server-groups/{gid}").json()["server_group"]["members"]
    assert members == [r.json()["server"]["id"]]
    assert [gid] == demo.get(f"/servers/{members[0]}").json()["server"]["server_groups"]
    assert admin.get(f"/os-server-groups/{gid}").status_code == 200
    assert gid not in [g["id"] for g in admin.get("/os-server-groups").json()["server_groups"]]
    every = admin.get("/os-server-groups", params={"all_projects": "true"}).json()
    assert gid in [g["id"] for g in every["server_groups"]]
    mine = create(admin, image)
    assert mine["id"]
    other = admin.post(
        "/os-server-groups", json={"server_group": {"name": unique("a"), "policy": "affinity"}}
    )
    other_id = other.json()["server_group"]["id"]
    fault(demo.get(f"/os-server-groups/{other_id}"), 404, "itemNotFound")
    hinted = demo.post(
        "/servers",
        json={
            "server": {"name": "x", "imageRef": image, "flavorRef": "1", "networks": "none"},
            "os:scheduler_hints": {"group": other_id},
        },
    )
    fault(hinted, 400, "badRequest")
    assert demo.delete(f"/os-server-groups/{ruled.json()['server_group']['id']}").status_code == 204
    admin.delete(f"/os-server-groups/{other_id}")


def test_zones_hypervisors_and_statistics(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, node: str
) -> None:
    zones = demo.get("/os-availability-zone").json()["availabilityZoneInfo"]
    assert {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None} in zones
    detail = admin.get("/os-availability-zone/detail").json()["availabilityZoneInfo"]
    assert node in next(z for z in detail if z["zoneName"] == "nova")["hosts"]
    fault(demo.get("/os-availability-zone/detail"), 403, "forbidden")
    hypervisors = admin.get("/os-hypervisors/detail").json()["hypervisors"]
    mine = next(h for h in hypervisors if h["hypervisor_hostname"] == node)
    assert uuid.UUID(mine["id"]) and mine["vcpus"] == 16 and mine["memory_mb_used"] == 1024
    assert mine["state"] == "down"  # no agent heartbeats for it in the registry
    assert mine["status"] == "enabled" and mine["hypervisor_type"] == "fake"
    shown = admin.get(f"/os-hypervisors/{mine['id']}").json()["hypervisor"]
    assert shown["hypervisor_hostname"] == node
    stats = admin.get("/os-hypervisors/statistics").json()["hypervisor_statistics"]
    assert stats["count"] >= 1 and stats["vcpus"] >= 16
    fault(demo.get("/os-hypervisors"), 403, "forbidden")
    fault(admin.get("/os-hypervisors/not-a-uuid"), 400, "badRequest")
    listed = cloud.openstack("hypervisor", "list", "-f", "json")
    assert node in [h["Hypervisor Hostname"] for h in listed]


def test_services_listing_is_admin_only(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client
) -> None:
    services = admin.get("/os-services").json()["services"]
    assert all(s["binary"].startswith("nova-") for s in services)
    fault(demo.get("/os-services"), 403, "forbidden")
    missing = admin.put(f"/os-services/{uuid.uuid4()}", json={"status": "disabled"})
    fault(missing, 404, "itemNotFound")
    assert isinstance(cloud.openstack("compute", "service", "list", "-f", "json"), list)


def test_usage(cloud: Cloud, admin: httpx.Client, demo: httpx.Client, image: str) -> None:
    create(demo, image)
    project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    own = demo.get(
        f"/os-simple-tenant-usage/{project}", params={"start": start, "end": tomorrow}
    ).json()["tenant_usage"]
    assert own["tenant_id"] == project and own["server_usages"]
    assert own["total_hours"] > 0
    everyone: list[dict[str, Any]] = admin.get(
        "/os-simple-tenant-usage", params={"start": start, "detailed": 1}
    ).json()["tenant_usages"]
    assert project in [u["tenant_id"] for u in everyone]
    fault(demo.get("/os-simple-tenant-usage"), 403, "forbidden")
    admin_project = cloud.openstack("project", "show", "admin", "-f", "json")["id"]
    fault(demo.get(f"/os-simple-tenant-usage/{admin_project}"), 403, "forbidden")
    fault(
        demo.get(f"/os-simple-tenant-usage/{project}", params={"start": "soon"}), 400, "badRequest"
    )
    listed = cloud.openstack("usage", "show", "--project", "demo", "-f", "json")
    assert "Servers" in listed or "servers" in str(listed).lower()


def test_requested_host_and_evacuate(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, image: str, node: str
) -> None:
    body = {"name": unique("h"), "imageRef": image, "flavorRef": "1", "networks": "none"}
    fault(demo.post("/servers", json={"server": {**body, "host": node}}), 403, "forbidden")
    fault(admin.post("/servers", json={"server": {**body, "host": "nowhere"}}), 400, "badRequest")
    old = admin.post(
        "/servers",
        json={"server": {**body, "host": node}},
        headers={"OpenStack-API-Version": "compute 2.73"},
    )
    fault(old, 400, "badRequest")
    made = admin.post("/servers", json={"server": {**body, "host": node}})
    assert made.status_code == 202, made.text
    sid = made.json()["server"]["id"]
    set_state(cloud, sid, "active")  # once the conductor has given up on the silent host
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        db.execute("UPDATE instances SET host = ? WHERE id = ?", (node, sid))
    fault(demo.post(f"/servers/{sid}/action", json={"evacuate": {}}), 403, "forbidden")
    evacuated = admin.post(f"/servers/{sid}/action", json={"evacuate": {}})
    assert evacuated.status_code == 200, evacuated.text  # its host is down: no heartbeats
    if not conductor_running(cloud):
        assert show(admin, sid)["OS-EXT-STS:task_state"] == "rebuilding"
    else:  # the conductor rebuilds it on a live host: it leaves the dead one
        deadline = time.monotonic() + 60
        while show(admin, sid)["OS-EXT-STS:task_state"] is not None:
            assert time.monotonic() < deadline, show(admin, sid)
            time.sleep(0.1)
        assert show(admin, sid)["OS-EXT-SRV-ATTR:host"] != node
    assert admin.get("/extensions").json() == {"extensions": []}

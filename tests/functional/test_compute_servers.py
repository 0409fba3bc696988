"""Servers through Nova v2.1 under ``stratus up``: what the API itself guarantees (the
conductor, when present, moves servers on from BUILD; these tests never wait for it).

States an action needs are written into the cloud's compute database directly, as the
conductor would, so the state machine's refusals are tested without a hypervisor.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from compute_clients import (
    client,
    create,
    fault,
    lift_quotas,
    set_state,
    show,
    small_image,
    token,
    unique,
)

from cloudproc import Cloud


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
def private_image(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    return small_image(cloud, tmp_path_factory.mktemp("img"), "--private")


def test_create_with_the_cli_then_show(cloud: Cloud, image: str, admin: httpx.Client) -> None:
    name = unique("cli")
    user_data = Path(cloud.state_dir.parent / "ud.txt")
    user_data.write_text("#cloud-config\n")
    made = cloud.openstack(
        "server",
        "create",
        "--image",
        image,
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--property",
        "role=web",
        "--user-data",
        str(user_data),
        name,
        "-f",
        "json",
        cloud="stratus-demo",
    )
    assert made["name"] == name and made["status"] in ("BUILD", "ACTIVE")
    server = show(admin, made["id"])
    assert server["metadata"] == {"role": "web"}
    assert server["flavor"]["original_name"] == "m1.tiny" and server["flavor"]["ram"] == 512
    assert server["OS-EXT-SRV-ATTR:user_data"] == base64.b64encode(b"#cloud-config\n").decode()
    assert server["image"]["id"] == image and server["locked"] is False
    old = admin.get(f"/servers/{made['id']}", headers={"OpenStack-API-Version": "compute 2.46"})
    assert old.json()["server"]["flavor"]["id"] == "1"
    listed = cloud.openstack("server", "list", "-f", "json", cloud="stratus-demo")
    assert made["id"] in [s["ID"] for s in listed]


def test_new_server_is_building_with_a_create_action(admin: httpx.Client, image: str) -> None:
    created = create(admin, image, description="first", tags=["a", "b"])
    assert created["adminPass"] and created["security_groups"] == [{"name": "default"}]
    server = show(admin, created["id"])
    if server["status"] == "BUILD":  # no conductor has taken it yet
        assert server["OS-EXT-STS:vm_state"] == "building"
    assert server["description"] == "first" and server["tags"] == ["a", "b"]
    # no zone asked: none until a host is chosen, then the host's
    assert server["OS-EXT-AZ:availability_zone"] == (
        "nova" if server["OS-EXT-SRV-ATTR:host"] else ""
    )


def test_isolation_between_projects(admin: httpx.Client, demo: httpx.Client, image: str) -> None:
    mine = create(admin, image)
    theirs = create(demo, image)
    demo_ids = [s["id"] for s in demo.get("/servers").json()["servers"]]
    assert theirs["id"] in demo_ids and mine["id"] not in demo_ids
    fault(demo.get(f"/servers/{mine['id']}"), 404, "itemNotFound")
    fault(demo.delete(f"/servers/{mine['id']}"), 404, "itemNotFound")
    fault(demo.post(f"/servers/{mine['id']}/action", json={"os-stop": None}), 404, "itemNotFound")
    fault(demo.get("/servers", params={"all_tenants": 1}), 403, "forbidden")
    everyone = admin.get("/servers/detail", params={"all_tenants": 1}).json()["servers"]
    assert {mine["id"], theirs["id"]} <= {s["id"] for s in everyone}
    own = [s["id"] for s in admin.get("/servers").json()["servers"]]
    assert theirs["id"] not in own


def test_filters_sorting_and_paging(admin: httpx.Client, image: str) -> None:
    prefix = unique("page")
    r = admin.post(
        "/servers",
        json={
            "server": {
                "name": prefix,
                "imageRef": image,
                "flavorRef": "1",
                "networks": "none",
                "min_count": 3,
                "max_count": 3,
                "tags": ["paged"],
            }
        },
    )
    assert r.status_code == 202, r.text
    query = {"name": f"^{prefix}-", "sort_key": "display_name", "sort_dir": "asc"}
    names = [s["name"] for s in admin.get("/servers", params=query).json()["servers"]]
    assert names == [f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"]
    first = admin.get("/servers", params={**query, "limit": 2}).json()
    assert [s["name"] for s in first["servers"]] == names[:2]
    link = first["servers_links"][0]
    assert link["rel"] == "next" and "marker=" in link["href"]
    rest = admin.get("/servers", params={**query, "marker": first["servers"][-1]["id"]})
    assert [s["name"] for s in rest.json()["servers"]] == names[2:]
    tagged = admin.get("/servers", params={"tags": "paged", "name": prefix}).json()["servers"]
    assert len(tagged) == 3
    flavor = admin.get("/servers", params={"flavor": "2", "name": prefix}).json()["servers"]
    assert flavor == []
    fault(admin.get("/servers", params={"status": "BOGUS"}), 400, "badRequest")
    fault(admin.get("/servers", params={"marker": "nope"}), 400, "badRequest")
    fault(admin.get("/servers", params={"sort_key": "secret"}), 400, "badRequest")
    fault(admin.get("/servers", params={"limit": "-1"}), 400, "badRequest")
    fault(admin.get("/servers", params={"changes-since": "yesterday"}), 400, "badRequest")
    recent = admin.get("/servers/detail", params={"changes-since": "2000-01-01T00:00:00Z"})
    assert prefix in str(recent.json())


def test_invalid_input_gets_nova_faults(
    admin: httpx.Client, demo: httpx.Client, image: str, private_image: str
) -> None:
    def refused(http: httpx.Client, **fields: Any) -> str:
        body = {"name": "x", "imageRef": image, "flavorRef": "1", "networks": "none", **fields}
        return fault(http.post("/servers", json={"server": body}), 400, "badRequest")

    assert "Flavor" in refused(demo, flavorRef="no-such-flavor")
    assert "could not be found" in refused(demo, imageRef=private_image)
    assert "Invalid imageRef" in refused(demo, imageRef="not-a-uuid")
    assert "base 64" in refused(demo, user_data="!!not base64!!")
    assert "too large" in refused(demo, user_data=base64.b64encode(b"x" * 65536).decode())
    refused(demo, name="n" * 256)
    refused(demo, name="")
    assert "key_name" in refused(demo, key_name="no-such-key")
    assert "networks" in refused(demo, networks=None)
    refused(demo, networks=[{"uuid": "not-a-uuid"}])
    refused(demo, min_count=3, max_count=2)
    refused(demo, availability_zone="nowhere")
    refused(demo, colour="blue")
    fault(demo.post("/servers", content=b"{bad json"), 400, "badRequest")
    fault(demo.get("/servers/not-a-uuid"), 404, "itemNotFound")
    fault(demo.get("/servers/00000000-0000-0000-0000-000000000000"), 404, "itemNotFound")
    fault(demo.post("/servers/not-a-uuid/action", json={"pause": None}), 404, "itemNotFound")
    assert (
        admin.post(
            "/servers",
            json={
                "server": {
                    "name": "x",
                    "imageRef": private_image,
                    "flavorRef": "1",
                    "networks": "none",
                }
            },
        ).status_code
        == 202
    )


def test_quota_exceeded_is_novas_403(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, image: str
) -> None:
    project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    used = admin.get(f"/os-quota-sets/{project}/detail").json()["quota_set"]["instances"]
    allowed = used["in_use"] + 1
    r = admin.put(f"/os-quota-sets/{project}", json={"quota_set": {"instances": allowed}})
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == allowed
    try:
        create(demo, image)
        r = demo.post(
            "/servers",
            json={
                "server": {"name": "over", "imageRef": image, "flavorRef": "1", "networks": "none"}
            },
        )
        message = fault(r, 403, "forbidden")
        assert message == (
            f"Quota exceeded for instances: Requested 1, but already used "
            f"{allowed} of {allowed} instances"
        )
        limits = demo.get("/limits").json()["limits"]["absolute"]
        assert limits["maxTotalInstances"] == allowed == limits["totalInstancesUsed"]
        fault(
            demo.put(f"/os-quota-sets/{project}", json={"quota_set": {"instances": 99}}),
            403,
            "forbidden",
        )
    finally:
        assert admin.delete(f"/os-quota-sets/{project}").status_code == 202
    default = admin.get(f"/os-quota-sets/{project}").json()["quota_set"]
    assert default["instances"] == 10 and default["cores"] == 20 and default["ram"] == 51200
    lift_quotas(cloud)


def test_update_metadata_and_tags(admin: httpx.Client, image: str) -> None:
    sid = create(admin, image, metadata={"a": "1"})["id"]
    r = admin.put(f"/servers/{sid}", json={"server": {"name": "renamed", "description": "d"}})
    assert r.json()["server"]["name"] == "renamed" and r.json()["server"]["description"] == "d"
    fault(admin.put(f"/servers/{sid}", json={"server": {"name": "x" * 256}}), 400, "badRequest")
    meta = f"/servers/{sid}/metadata"
    assert admin.post(meta, json={"metadata": {"b": "2"}}).json()["metadata"] == {
        "a": "1",
        "b": "2",
    }
    assert admin.put(f"{meta}/c", json={"meta": {"c": "3"}}).json() == {"meta": {"c": "3"}}
    assert admin.get(f"{meta}/c").json() == {"meta": {"c": "3"}}
    fault(admin.put(f"{meta}/c", json={"meta": {"d": "3"}}), 400, "badRequest")
    assert admin.delete(f"{meta}/a").status_code == 204
    fault(admin.get(f"{meta}/a"), 404, "itemNotFound")
    too_many = {f"k{i}": "v" for i in range(129)}
    fault(admin.put(meta, json={"metadata": too_many}), 403, "forbidden")
    tags = f"/servers/{sid}/tags"
    assert admin.put(f"{tags}/blue").status_code == 201
    assert admin.put(f"{tags}/blue").status_code == 204
    assert admin.get(tags).json() == {"tags": ["blue"]}
    assert admin.put(tags, json={"tags": ["x", "y"]}).json() == {"tags": ["x", "y"]}
    fault(admin.get(f"{tags}/blue"), 404, "itemNotFound")
    assert admin.delete(tags).status_code == 204
    assert admin.get(tags).json() == {"tags": []}


def test_actions_follow_the_state_machine(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, image: str
) -> None:
    sid = create(demo, image)["id"]
    act = f"/servers/{sid}/action"
    set_state(cloud, sid, "building", "scheduling")
    message = fault(demo.post(act, json={"os-stop": None}), 409, "conflictingRequest")
    assert "Cannot 'stop' instance" in message
    set_state(cloud, sid, "active")
    assert demo.post(act, json={"pause": None}).status_code == 202
    server = show(demo, sid)
    assert server["OS-EXT-STS:task_state"] in ("pausing", None)
    set_state(cloud, sid, "active", "pausing")
    fault(demo.post(act, json={"os-stop": None}), 409, "conflictingRequest")
    set_state(cloud, sid, "stopped")
    fault(demo.post(act, json={"pause": None}), 409, "conflictingRequest")
    fault(demo.post(act, json={"reboot": {"type": "SOFT"}}), 409, "conflictingRequest")
    fault(demo.post(act, json={"reboot": {"type": "GENTLE"}}), 400, "badRequest")
    fault(demo.post(act, json={"migrate": None}), 403, "forbidden")
    fault(demo.post(act, json={"teleport": None}), 400, "badRequest")
    fault(demo.post(act, json={"resize": {"flavorRef": "1"}}), 400, "badRequest")
    assert demo.post(act, json={"os-start": None}).status_code == 202


def test_lock_refuses_non_admin_actions(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, image: str
) -> None:
    sid = create(demo, image)["id"]
    act = f"/servers/{sid}/action"
    set_state(cloud, sid, "active")
    assert demo.post(act, json={"lock": {"locked_reason": "maintenance"}}).status_code == 202
    server = show(demo, sid)
    assert server["locked"] is True and server["locked_reason"] == "maintenance"
    assert "locked" in fault(demo.post(act, json={"pause": None}), 409, "conflictingRequest")
    fault(demo.delete(f"/servers/{sid}"), 409, "conflictingRequest")
    assert admin.post(act, json={"pause": None}).status_code == 202
    assert demo.post(act, json={"unlock": None}).status_code == 202
    set_state(cloud, sid, "active")
    assert admin.post(act, json={"lock": None}).status_code == 202
    fault(demo.post(act, json={"unlock": None}), 403, "forbidden")
    assert admin.post(act, json={"unlock": None}).status_code == 202


async def test_two_concurrent_actions_never_both_start(
    cloud: Cloud, demo: httpx.Client, image: str
) -> None:
    sid = create(demo, image)["id"]
    set_state(cloud, sid, "active")
    headers = {"X-Auth-Token": token(cloud, "stratus-demo")}
    async with httpx.AsyncClient(
        base_url=f"{cloud.compute_url}/v2.1", headers=headers, timeout=60
    ) as http:
        bodies = [{"pause": None}, {"suspend": None}, {"os-stop": None}, {"pause": None}]
        answers = await asyncio.gather(
            *(http.post(f"/servers/{sid}/action", json=b) for b in bodies)
        )
    codes = sorted(r.status_code for r in answers)
    assert codes == [202, 409, 409, 409], [r.text for r in answers]


def test_delete_then_gone_from_the_list(cloud: Cloud, demo: httpx.Client, image: str) -> None:
    sid = create(demo, image)["id"]
    assert demo.delete(f"/servers/{sid}").status_code == 204
    again = demo.delete(f"/servers/{sid}")
    assert again.status_code in (404, 409)
    set_state(cloud, sid, "deleted")
    fault(demo.get(f"/servers/{sid}"), 404, "itemNotFound")
    assert sid not in [s["id"] for s in demo.get("/servers").json()["servers"]]
    changed = demo.get("/servers/detail", params={"changes-since": "2000-01-01T00:00:00Z"})
    assert any(s["id"] == sid and s["status"] == "DELETED" for s in changed.json()["servers"])


def test_cli_actions_start_and_are_recorded(cloud: Cloud, admin: httpx.Client, image: str) -> None:
    sid = create(admin, image)["id"]
    steps = [
        # first, while the server is still on the host it was built on: the snapshot is
        # really taken (the CLI reads the new image back, which a failed snapshot deletes)
        ("active", ("server", "image", "create", "--name", unique("snap"), sid), "image_snapshot"),
        ("active", ("server", "reboot", "--hard", sid), "rebooting_hard"),
        ("active", ("server", "stop", sid), "powering-off"),
        ("stopped", ("server", "start", sid), "powering-on"),
        ("active", ("server", "pause", sid), "pausing"),
        ("paused", ("server", "unpause", sid), "unpausing"),
        ("active", ("server", "suspend", sid), "suspending"),
        ("suspended", ("server", "resume", sid), "resuming"),
        ("active", ("server", "resize", "--flavor", "m1.small", sid), "resize_prep"),
        ("resized", ("server", "resize", "confirm", sid), "resize_confirming"),
        ("resized", ("server", "resize", "revert", sid), "resize_reverting"),
        ("active", ("server", "rebuild", "--image", image, sid), "rebuilding"),
        ("active", ("server", "migrate", sid), "resize_prep"),
    ]
    for vm_state, command, task in steps:
        set_state(cloud, sid, vm_state)
        cloud.cli(*command)
        # the task the API started (a conductor, if running, may have moved it on since)
        later = ("image_pending_upload", "image_uploading") if task == "image_snapshot" else ()
        assert show(admin, sid)["OS-EXT-STS:task_state"] in (task, *later, None), command
    events = cloud.openstack("server", "event", "list", sid, "-f", "json")
    recorded = [e["Action"] for e in events]
    for action in (
        "create",
        "reboot",
        "stop",
        "start",
        "pause",
        "resize",
        "confirmResize",
        "revertResize",
        "rebuild",
        "migrate",
        "createImage",
    ):
        assert action in recorded, recorded
    # whether the snapshot of this server, pushed through forced states, could be taken is
    # for tests/functional/test_compute_snapshot.py


def test_create_image_answers_per_microversion(
    cloud: Cloud, demo: httpx.Client, image: str
) -> None:
    sid = create(demo, image)["id"]
    set_state(cloud, sid, "active")
    old = demo.post(
        f"/servers/{sid}/action",
        json={"createImage": {"name": unique("s")}},
        headers={"OpenStack-API-Version": "compute 2.44"},
    )
    assert old.status_code == 202 and old.headers["Location"].startswith(cloud.image_url)
    set_state(cloud, sid, "active")
    new = demo.post(
        f"/servers/{sid}/action",
        json={"createImage": {"name": unique("s"), "metadata": {"purpose": "backup"}}},
    )
    assert new.status_code == 202
    image_id = new.json()["image_id"]
    made = cloud.openstack("image", "show", image_id, "-f", "json", cloud="stratus-demo")
    assert made["properties"]["instance_uuid"] == sid
    assert made["properties"]["purpose"] == "backup"


def test_fault_of_a_server_in_error(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, image: str
) -> None:
    sid = create(demo, image)["id"]
    set_state(cloud, sid, "error")
    fault_json = '{"code": 500, "message": "No valid host", "details": "RamFilter: 2 -> 0"}'
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        db.execute("UPDATE instances SET fault = ? WHERE id = ?", (fault_json, sid))
    mine = show(demo, sid)
    assert mine["status"] == "ERROR" and mine["fault"]["message"] == "No valid host"
    assert "details" not in mine["fault"]  # a 500's details are for admins
    assert show(admin, sid)["fault"]["details"] == "RamFilter: 2 -> 0"
    errors = demo.get("/servers", params={"status": "ERROR"}).json()["servers"]
    assert sid in [s["id"] for s in errors]


# openstacksdk warns about its own deprecated internals (InfluxDB, _compute_attributes).
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_openstacksdk_servers(cloud: Cloud, image: str) -> None:
    conn = cloud.sdk("stratus-demo")
    try:
        made = conn.compute.create_server(
            name=unique("sdk"),
            image_id=image,
            flavor_id="1",
            networks="none",
            metadata={"via": "sdk"},
        )
        server = conn.compute.get_server(made.id)
        assert server.name == made.name and server.metadata == {"via": "sdk"}
        assert server.flavor.original_name == "m1.tiny"
        assert made.id in [s.id for s in conn.compute.servers()]
        conn.compute.delete_server(made)
    finally:
        conn.close()

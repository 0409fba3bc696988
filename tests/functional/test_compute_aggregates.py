"""Host aggregates, availability zones and compute service deletion under a real
``stratus up`` with three fake hosts, driven by the real ``openstack`` CLI.

Aggregates steer the real scheduler: a flavor's ``aggregate_instance_extra_specs`` and a
server's ``--availability-zone`` place servers on the aggregate's hosts only.
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
from compute_clients import client, fault, lift_quotas, small_image, unique

from cloudproc import Cloud, free_port

HOSTS = 3
DEADLINE = 60.0


@pytest.fixture(scope="module")
def cloud3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("aggregates") / "state"
    env = {"STRATUS_COMPUTE__FAKE_HOSTS": str(HOSTS)}
    cloud = Cloud(state_dir=state_dir, identity_port=free_port(), extra_env=env)
    cloud.start(timeout=120)
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def hosts(cloud3: Cloud) -> list[str]:
    """The fake hosts' names, once all have reported."""
    deadline = time.monotonic() + DEADLINE
    while len(found := cloud3.openstack("hypervisor", "list", "-f", "json")) < HOSTS:
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
    return sorted(h["Hypervisor Hostname"] for h in found)


@pytest.fixture(scope="module")
def admin(cloud3: Cloud, hosts: list[str]) -> Iterator[httpx.Client]:
    lift_quotas(cloud3)
    with client(cloud3, "stratus-admin") as c:
        yield c


@pytest.fixture(scope="module")
def demo(cloud3: Cloud, admin: httpx.Client) -> Iterator[httpx.Client]:
    with client(cloud3, "stratus-demo") as c:
        yield c


@pytest.fixture(scope="module")
def image(cloud3: Cloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    return small_image(cloud3, tmp_path_factory.mktemp("img"), "--public")


def osc(cloud: Cloud, *args: str) -> Any:
    return cloud.openstack(*args, "-f", "json")


def refused(cloud: Cloud, *args: str, cloud_name: str = "stratus-admin") -> str:
    """The CLI's error output of a command the API refuses."""
    result = cloud.cli(*args, cloud=cloud_name, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr


def boot(http: httpx.Client, image: str, flavor: str = "1", **fields: Any) -> str:
    body = {"name": unique("srv"), "imageRef": image, "flavorRef": flavor, "networks": "none"}
    body |= fields
    r = http.post("/servers", json={"server": body})
    assert r.status_code == 202, r.text
    return str(r.json()["server"]["id"])


def settled(http: httpx.Client, server_id: str) -> dict[str, Any]:
    """The server once it is ACTIVE or ERROR."""
    deadline = time.monotonic() + DEADLINE
    while True:
        server: dict[str, Any] = http.get(f"/servers/{server_id}").json()["server"]
        if server["status"] in ("ACTIVE", "ERROR"):
            return server
        assert time.monotonic() < deadline, server
        time.sleep(0.1)


def delete_servers(http: httpx.Client, ids: list[str]) -> None:
    for sid in ids:
        http.delete(f"/servers/{sid}")
    deadline = time.monotonic() + DEADLINE
    for sid in ids:
        while http.get(f"/servers/{sid}").status_code != 404:
            assert time.monotonic() < deadline, sid
            time.sleep(0.1)


def drop_aggregate(cloud: Cloud, name: str) -> None:
    """Empty and delete an aggregate if it is still there (cleanup after a failure)."""
    found = cloud.cli("aggregate", "show", name, "-f", "json", check=False)
    if found.returncode != 0:
        return
    for host in osc(cloud, "aggregate", "show", name)["hosts"]:
        cloud.cli("aggregate", "remove", "host", name, host, check=False)
    cloud.cli("aggregate", "delete", name, check=False)


def test_aggregate_lifecycle_with_the_cli(
    cloud3: Cloud, hosts: list[str], admin: httpx.Client
) -> None:
    name, zone = unique("agg"), unique("east")
    try:
        made = osc(cloud3, "aggregate", "create", "--zone", zone, name)
        assert (made["name"], made["availability_zone"]) == (name, zone)
        assert uuid.UUID(made["uuid"]) and not made["is_deleted"]
        added = osc(cloud3, "aggregate", "add", "host", name, hosts[0])
        assert added["hosts"] == [hosts[0]]
        cloud3.cli("aggregate", "set", "--property", "ssd=true", name)
        shown = osc(cloud3, "aggregate", "show", name)
        assert shown["hosts"] == [hosts[0]] and shown["properties"] == {"ssd": "true"}
        assert shown["availability_zone"] == zone and shown["updated_at"]
        raw = admin.get(f"/os-aggregates/{made['id']}").json()["aggregate"]
        assert raw["metadata"] == {"availability_zone": zone, "ssd": "true"}
        assert raw["uuid"] == made["uuid"] and raw["deleted"] is False
        old = admin.get(
            f"/os-aggregates/{made['id']}", headers={"OpenStack-API-Version": "compute 2.40"}
        )
        assert "uuid" not in old.json()["aggregate"]
        listed = osc(cloud3, "aggregate", "list", "--long")
        mine = next(a for a in listed if a["Name"] == name)
        assert mine["Availability Zone"] == zone and mine["Hosts"] == [hosts[0]]

        zones = osc(cloud3, "availability", "zone", "list", "--long")
        assert {"Zone Name": zone, "Host Name": hosts[0]}.items() <= next(
            z for z in zones if z["Host Name"] == hosts[0]
        ).items()
        assert {z["Zone Name"] for z in zones if z["Host Name"] in hosts[1:]} == {"nova"}
        services = osc(cloud3, "compute", "service", "list", "--service", "nova-compute")
        assert {s["Host"]: s["Zone"] for s in services}[hosts[0]] == zone

        cloud3.cli("aggregate", "unset", "--property", "ssd", name)
        assert osc(cloud3, "aggregate", "show", name)["properties"] == {}
        removed = osc(cloud3, "aggregate", "remove", "host", name, hosts[0])
        assert removed["hosts"] == []
        renamed = unique("agg")
        cloud3.cli("aggregate", "set", "--name", renamed, name)
        name = renamed
        assert osc(cloud3, "aggregate", "show", name)["availability_zone"] == zone
        cloud3.cli("aggregate", "delete", name)
        fault(admin.get(f"/os-aggregates/{made['id']}"), 404, "itemNotFound")
        assert zone not in [z["Zone Name"] for z in osc(cloud3, "availability", "zone", "list")]
    finally:
        drop_aggregate(cloud3, name)


def test_flavor_extra_spec_boots_only_on_the_aggregates_host(
    cloud3: Cloud, hosts: list[str], admin: httpx.Client, image: str
) -> None:
    name, flavor = unique("ssd"), unique("flv")
    servers: list[str] = []
    try:
        cloud3.cli("aggregate", "create", "--property", "ssd=true", name)
        cloud3.cli("aggregate", "add", "host", name, hosts[1])
        made = osc(
            cloud3, "flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1",
            "--property", "aggregate_instance_extra_specs:ssd=true", flavor,
        )  # fmt: skip
        # without the filter the spreading weighers would use all three hosts
        servers = [boot(admin, image, made["id"]) for _ in range(HOSTS)]
        placed = [settled(admin, sid) for sid in servers]
        assert [s["status"] for s in placed] == ["ACTIVE"] * HOSTS
        assert {s["OS-EXT-SRV-ATTR:host"] for s in placed} == {hosts[1]}

        cloud3.cli("aggregate", "unset", "--property", "ssd", name)
        servers.append(boot(admin, image, made["id"]))
        failed = settled(admin, servers[-1])
        assert failed["status"] == "ERROR"
        assert "AggregateInstanceExtraSpecsFilter" in failed["fault"]["message"]
    finally:
        delete_servers(admin, servers)
        drop_aggregate(cloud3, name)
        cloud3.cli("flavor", "delete", flavor, check=False)


def test_availability_zone_boot_lands_in_the_aggregate(
    cloud3: Cloud, hosts: list[str], admin: httpx.Client, demo: httpx.Client, image: str
) -> None:
    name, zone = unique("agg"), unique("west")
    servers: list[str] = []
    try:
        cloud3.cli("aggregate", "create", "--zone", zone, name)
        cloud3.cli("aggregate", "add", "host", name, hosts[2])
        assert zone in [z["Zone Name"] for z in osc(cloud3, "availability", "zone", "list")]
        made = osc(
            cloud3, "server", "create", "--flavor", "m1.tiny", "--image", image,
            "--availability-zone", zone, "--wait", unique("srv"),
        )  # fmt: skip
        servers.append(made["id"])
        assert made["OS-EXT-SRV-ATTR:host"] == hosts[2]
        assert made["OS-EXT-AZ:availability_zone"] == zone
        servers.append(boot(demo, image, availability_zone=zone))
        theirs = settled(demo, servers[-1])
        assert theirs["OS-EXT-AZ:availability_zone"] == zone
        assert settled(admin, servers[-1])["OS-EXT-SRV-ATTR:host"] == hosts[2]
        servers.append(boot(admin, image))  # no zone asked: any host, and shows its zone
        free = settled(admin, servers[-1])
        expected = zone if free["OS-EXT-SRV-ATTR:host"] == hosts[2] else "nova"
        assert free["OS-EXT-AZ:availability_zone"] == expected
        nowhere = {"name": "x", "imageRef": image, "flavorRef": "1", "networks": "none"}
        nowhere["availability_zone"] = unique("nowhere")
        fault(demo.post("/servers", json={"server": nowhere}), 400, "badRequest")

        # the host's servers would change zone: refused, as Nova does
        assert "400" in refused(cloud3, "aggregate", "remove", "host", name, hosts[2])
        assert "400" in refused(cloud3, "aggregate", "set", "--zone", unique("z"), name)
        delete_servers(admin, servers)
        servers = []
        cloud3.cli("aggregate", "remove", "host", name, hosts[2])
    finally:
        delete_servers(admin, servers)
        drop_aggregate(cloud3, name)


def _action(http: httpx.Client, agg_id: int, body: Any) -> httpx.Response:
    return http.post(f"/os-aggregates/{agg_id}/action", json=body)


def test_refusals_are_nova_faults(
    cloud3: Cloud, hosts: list[str], admin: httpx.Client, demo: httpx.Client
) -> None:
    first, second, zone = unique("agg"), unique("agg"), unique("north")
    try:
        one = osc(cloud3, "aggregate", "create", "--zone", zone, first)["id"]
        two = osc(cloud3, "aggregate", "create", "--zone", unique("south"), second)["id"]
        assert "404" in refused(cloud3, "aggregate", "add", "host", first, "no-such-host")
        cloud3.cli("aggregate", "add", "host", first, hosts[0])
        assert "409" in refused(cloud3, "aggregate", "add", "host", first, hosts[0])
        assert "400" in refused(cloud3, "aggregate", "delete", first)
        # one host, two zones
        message = fault(_action(admin, two, {"add_host": {"host": hosts[0]}}), 400, "badRequest")
        assert zone in message
        cloud3.cli("aggregate", "add", "host", second, hosts[1])
        fault(admin.put(f"/os-aggregates/{two}", json={"aggregate": {"name": first}}), 409,
              "conflictingRequest")  # fmt: skip
        assert "409" in refused(cloud3, "aggregate", "create", first)
        plain = osc(cloud3, "aggregate", "create", unique("agg"))["id"]
        try:
            _action(admin, plain, {"add_host": {"host": hosts[1]}})  # zone from `second`
            zoned = {"set_metadata": {"metadata": {"availability_zone": zone}}}
            fault(_action(admin, plain, zoned), 400, "badRequest")
            assert _action(admin, plain, {"remove_host": {"host": hosts[1]}}).status_code == 200
        finally:
            admin.delete(f"/os-aggregates/{plain}")
        fault(_action(admin, one, {"remove_host": {"host": hosts[2]}}), 404, "itemNotFound")

        bad_creates: list[Any] = [
            {}, {"aggregate": {}}, {"aggregate": {"name": ""}}, {"aggregate": {"name": "x" * 256}},
            {"aggregate": {"name": "  "}}, {"aggregate": {"name": "a", "hosts": []}},
            {"aggregate": {"name": "a", "availability_zone": "a:b"}},
            {"aggregate": {"name": "a", "availability_zone": "internal"}},
            {"aggregate": {"name": "a", "availability_zone": ""}}, {"aggregate": "a"}, [],
        ]  # fmt: skip
        for body in bad_creates:
            fault(admin.post("/os-aggregates", json=body), 400, "badRequest")
        fault(admin.put(f"/os-aggregates/{one}", json={"aggregate": {}}), 400, "badRequest")
        bad_actions: list[Any] = [
            {}, {"explode": {}}, {"add_host": {}}, {"add_host": "h"},
            {"add_host": {"host": hosts[0], "extra": 1}}, {"set_metadata": {}},
            {"set_metadata": {"metadata": {"k": 5}}}, {"set_metadata": {"metadata": {"a/b": "v"}}},
            {"set_metadata": {"metadata": {"availability_zone": ""}}},
            {"add_host": {"host": "a"}, "remove_host": {"host": "a"}},
        ]  # fmt: skip
        for body in bad_actions:
            fault(_action(admin, one, body), 400, "badRequest")
        fault(admin.get("/os-aggregates/not-a-number"), 400, "badRequest")
        fault(admin.get("/os-aggregates/987654"), 404, "itemNotFound")
        fault(_action(admin, 987654, {"add_host": {"host": hosts[0]}}), 404, "itemNotFound")

        assert "403" in refused(cloud3, "aggregate", "list", cloud_name="stratus-demo")
        fault(demo.post("/os-aggregates", json={"aggregate": {"name": "d"}}), 403, "forbidden")
        fault(_action(demo, one, {"add_host": {"host": hosts[2]}}), 403, "forbidden")
        fault(demo.delete(f"/os-aggregates/{one}"), 403, "forbidden")
    finally:
        drop_aggregate(cloud3, first)
        drop_aggregate(cloud3, second)


def _service_id(cloud: Cloud, host: str) -> str:
    services = osc(cloud, "compute", "service", "list", "--service", "nova-compute")
    return str(next(s["ID"] for s in services if s["Host"] == host))


def _register_dead_host(cloud: Cloud, host: str) -> None:
    """A host whose agent is gone for good: its registry record and node row remain."""
    now = dt.datetime.now(dt.UTC)
    seen = (now - dt.timedelta(days=1)).isoformat()
    with sqlite3.connect(cloud.state_dir / "registry.sqlite", timeout=30) as db:
        db.execute(
            "INSERT INTO service_records (id, host, binary, topic, version, disabled,"
            " disabled_reason, forced_down, report_count, created_at, last_seen)"
            " VALUES (?, ?, 'stratus-compute-agent', 'compute', '', 0, NULL, 0, 1, ?, ?)",
            (uuid.uuid4().hex, host, seen, seen),
        )
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        db.execute(
            "INSERT INTO compute_nodes (host, hypervisor_hostname, hypervisor_type,"
            " hypervisor_version, cpu_arch, vcpus, memory_mb, local_gb, vcpus_used,"
            " memory_mb_used, local_gb_used, running_vms, availability_zone, disabled,"
            " forced_down, last_seen, created_at)"
            " VALUES (?, ?, 'fake', 1, 'x86_64', 4, 4096, 40, 0, 0, 0, 0, 'nova', 0, 0, ?, ?)",
            (host, host, seen, seen),
        )


def _forget_dead_host(cloud: Cloud, host: str) -> None:
    with sqlite3.connect(cloud.state_dir / "registry.sqlite", timeout=30) as db:
        db.execute("DELETE FROM service_records WHERE host = ?", (host,))
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        db.execute("DELETE FROM compute_nodes WHERE host = ?", (host,))


def test_compute_service_delete(
    cloud3: Cloud, hosts: list[str], admin: httpx.Client, demo: httpx.Client, image: str
) -> None:
    busy = boot(admin, image, availability_zone=f"nova:{hosts[0]}")
    try:
        assert settled(admin, busy)["OS-EXT-SRV-ATTR:host"] == hosts[0]
        busy_id = _service_id(cloud3, hosts[0])
        assert "409" in refused(cloud3, "compute", "service", "delete", busy_id)
        fault(demo.delete(f"/os-services/{busy_id}"), 403, "forbidden")
    finally:
        delete_servers(admin, [busy])

    dead, name = unique("gone"), unique("agg")
    _register_dead_host(cloud3, dead)
    try:
        cloud3.cli("aggregate", "create", name)
        cloud3.cli("aggregate", "add", "host", name, dead)
        dead_id = _service_id(cloud3, dead)
        cloud3.cli("compute", "service", "delete", dead_id)
        listed = osc(cloud3, "compute", "service", "list", "--service", "nova-compute")
        assert dead not in [s["Host"] for s in listed]
        hypervisors = osc(cloud3, "hypervisor", "list")
        assert dead not in [h["Hypervisor Hostname"] for h in hypervisors]
        assert osc(cloud3, "aggregate", "show", name)["hosts"] == []
        assert "404" in refused(cloud3, "compute", "service", "delete", dead_id)
        fault(admin.delete("/os-services/not-a-uuid"), 400, "badRequest")
    finally:
        _forget_dead_host(cloud3, dead)
        drop_aggregate(cloud3, name)

"""Servers get ports from the network service: the real ``openstack`` CLI boots on a
project's network or on a port the user made, the server shows the port's address, the
port is bound to the server's host, and it goes (or, the user's own, is released) with
the server. Bad network requests are refused by the create itself, in Nova's words.

Runs on the session cloud (fake driver); every network made here is removed, so the
suites that boot with ``auto`` still find none.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from compute_clients import client, fault, lift_quotas, small_image, unique

from cloudproc import Cloud

DEMO, ADMIN = "stratus-demo", "stratus-admin"


def osc(cloud: Cloud, *args: str, who: str = DEMO) -> Any:
    return cloud.openstack(*args, "-f", "json", cloud=who)


def make_network(cloud: Cloud, cidr: str, who: str = DEMO) -> tuple[str, str]:
    """A network with one subnet; its (id, name)."""
    name = unique("net")
    net = osc(cloud, "network", "create", name, who=who)
    osc(cloud, "subnet", "create", "--network", net["id"], "--subnet-range", cidr,
        unique("sub"), who=who)  # fmt: skip
    return str(net["id"]), name


def remove_network(cloud: Cloud, net_id: str, who: str = DEMO) -> None:
    for port in osc(cloud, "port", "list", "--network", net_id, who=ADMIN):
        cloud.cli("port", "delete", port["ID"], cloud=ADMIN, check=False)
    cloud.cli("network", "delete", net_id, cloud=who, check=False)


@pytest.fixture(scope="module")
def image(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    return small_image(cloud, tmp_path_factory.mktemp("img"), "--public")


@pytest.fixture(scope="module")
def demo(cloud: Cloud) -> Iterator[httpx.Client]:
    lift_quotas(cloud)
    with client(cloud, DEMO) as c:
        yield c


@pytest.fixture
def network(cloud: Cloud) -> Iterator[tuple[str, str]]:
    made = make_network(cloud, "10.71.0.0/24")
    yield made
    remove_network(cloud, made[0])


def boot(cloud: Cloud, image: str, *nic: str) -> dict[str, Any]:
    made: dict[str, Any] = osc(cloud, "server", "create", "--image", image, "--flavor",
                               "m1.tiny", *nic, "--wait", unique("srv"))  # fmt: skip
    return made


def delete(cloud: Cloud, server_id: str) -> None:
    cloud.openstack("server", "delete", "--wait", server_id, cloud=DEMO)


def test_a_server_gets_a_port_on_its_network(
    cloud: Cloud, image: str, network: tuple[str, str]
) -> None:
    net_id, net_name = network
    server = boot(cloud, image, "--nic", f"net-id={net_id}")
    assert server["status"] == "ACTIVE"
    shown = osc(cloud, "server", "show", server["id"])
    addresses = shown["addresses"]
    assert list(addresses) == [net_name], addresses
    address = ipaddress.ip_address(addresses[net_name][0])
    assert address in ipaddress.ip_network("10.71.0.0/24")
    (port,) = osc(cloud, "port", "list", "--server", server["id"], "--long")
    assert port["Fixed IP Addresses"][0]["ip_address"] == str(address)
    bound = osc(cloud, "port", "show", port["ID"], who=ADMIN)
    host = osc(cloud, "server", "show", server["id"], who=ADMIN)["OS-EXT-SRV-ATTR:host"]
    assert bound["binding_host_id"] == host
    assert bound["device_owner"].startswith("compute:")
    assert bound["binding_vif_type"] == "bridge"
    assert port["Security Groups"], port  # the project's default group
    delete(cloud, server["id"])
    assert osc(cloud, "port", "list", "--network", net_id) == []


def test_the_users_own_port_is_used_and_released(
    cloud: Cloud, image: str, network: tuple[str, str]
) -> None:
    net_id, _ = network
    port = osc(cloud, "port", "create", "--network", net_id, "--fixed-ip",
               "ip-address=10.71.0.50", unique("own"))  # fmt: skip
    server = boot(cloud, image, "--port", port["id"])
    addresses = osc(cloud, "server", "show", server["id"])["addresses"]
    assert [a for v in addresses.values() for a in v] == ["10.71.0.50"]
    assert osc(cloud, "port", "show", port["id"])["device_id"] == server["id"]
    delete(cloud, server["id"])
    kept = osc(cloud, "port", "show", port["id"])
    assert (kept["device_id"], kept["device_owner"]) == ("", "")
    assert kept["fixed_ips"][0]["ip_address"] == "10.71.0.50"


def body(image: str, networks: Any, **extra: Any) -> dict[str, Any]:
    return {"server": {"name": unique("bad"), "imageRef": image, "flavorRef": "1",
                       "networks": networks, **extra}}  # fmt: skip


def test_bad_network_requests_are_refused_at_create(
    cloud: Cloud, image: str, demo: httpx.Client, network: tuple[str, str]
) -> None:
    net_id, _ = network
    before = len(demo.get("/servers").json()["servers"])
    unknown = "8a0e9b6c-1111-4e5f-9abc-0123456789ab"
    message = fault(demo.post("/servers", json=body(image, [{"uuid": unknown}])), 400,
                    "badRequest")  # fmt: skip
    assert message == f"Network {unknown} could not be found."
    message = fault(demo.post("/servers", json=body(image, [{"port": unknown}])), 400,
                    "badRequest")  # fmt: skip
    assert message == f"Port id {unknown} could not be found."
    no_group = body(image, [{"uuid": net_id}], security_groups=[{"name": "no-such-group"}])
    message = fault(demo.post("/servers", json=no_group), 400, "badRequest")
    assert message == "Security group no-such-group not found."
    admins, _ = make_network(cloud, "10.72.0.0/24", who=ADMIN)
    try:  # another project's private network does not exist for demo
        fault(demo.post("/servers", json=body(image, [{"uuid": admins}])), 400, "badRequest")
    finally:
        remove_network(cloud, admins, who=ADMIN)
    port = osc(cloud, "port", "create", "--network", net_id, unique("p"))
    two = body(image, [{"port": port["id"]}], min_count=2, max_count=2)
    assert "one by one" in fault(demo.post("/servers", json=two), 400, "badRequest")
    server = boot(cloud, image, "--port", port["id"])
    try:
        taken = demo.post("/servers", json=body(image, [{"port": port["id"]}]))
        assert "in use" in fault(taken, 409, "conflictingRequest")
        second, _ = make_network(cloud, "10.73.0.0/24")
        try:
            ambiguous = demo.post("/servers", json=body(image, "auto"))
            assert "Multiple possible networks" in fault(ambiguous, 409, "conflictingRequest")
        finally:
            remove_network(cloud, second)
    finally:
        delete(cloud, server["id"])
    assert len(demo.get("/servers").json()["servers"]) == before


def test_no_free_address_ends_the_build_in_error(cloud: Cloud, image: str) -> None:
    net = osc(cloud, "network", "create", unique("one"))
    osc(
        cloud,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "10.74.0.0/24",
        "--allocation-pool",
        "start=10.74.0.10,end=10.74.0.10",
        "--no-dhcp",
        unique("sub"),
    )  # fmt: skip  (one address to give)
    try:
        first = boot(cloud, image, "--nic", f"net-id={net['id']}")
        name = unique("srv")
        result = cloud.cli("server", "create", "--image", image, "--flavor", "m1.tiny",
                           "--nic", f"net-id={net['id']}", "--wait", name,
                           cloud=DEMO, check=False)  # fmt: skip
        assert result.returncode != 0
        shown = osc(cloud, "server", "show", name)
        assert shown["status"] == "ERROR"
        assert "Failed to allocate the network(s)" in shown["fault"]["message"]
        assert shown["addresses"] == {}
        delete(cloud, shown["id"])
        delete(cloud, first["id"])
    finally:
        remove_network(cloud, net["id"])


def drop_auto_allocated(cloud: Cloud) -> None:
    """Remove demo's auto-allocated topology (other suites' boots with ``auto`` make it)."""
    cloud.cli("network", "auto", "allocated", "topology", "delete", cloud=DEMO, check=False)


def wait_built(demo: httpx.Client, server_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = demo.get(f"/servers/{server_id}").json()["server"]
    while shown["status"] == "BUILD":
        shown = demo.get(f"/servers/{server_id}").json()["server"]
    return shown


def test_auto_uses_the_projects_only_network(cloud: Cloud, image: str, demo: httpx.Client) -> None:
    drop_auto_allocated(cloud)
    net_id, net_name = make_network(cloud, "10.75.0.0/24")
    try:
        made = demo.post("/servers", json=body(image, "auto"))
        assert made.status_code == 202, made.text
        server_id = made.json()["server"]["id"]
        try:
            assert list(wait_built(demo, server_id)["addresses"]) == [net_name]
        finally:
            delete(cloud, server_id)
    finally:
        remove_network(cloud, net_id)


def test_auto_without_a_network_allocates_the_projects_topology(
    cloud: Cloud, image: str, demo: httpx.Client
) -> None:
    drop_auto_allocated(cloud)
    made = demo.post("/servers", json=body(image, "auto"))
    assert made.status_code == 202, made.text
    server_id = made.json()["server"]["id"]
    try:
        shown = wait_built(demo, server_id)
        assert shown["status"] == "ACTIVE", shown
        topology = osc(cloud, "network", "auto", "allocated", "topology", "create")
        net = osc(cloud, "network", "show", topology["id"])
        assert list(shown["addresses"]) == [net["name"]]
        (router,) = osc(cloud, "router", "list")
        gateway = osc(cloud, "router", "show", router["ID"])["external_gateway_info"]
        public = osc(cloud, "network", "show", "public")
        assert gateway["network_id"] == public["id"]
        pre = demo.post(
            "/servers", json=body(image, "auto"), headers={"OpenStack-API-Version": "compute 2.36"}
        )  # fmt: skip  (before 2.37, "auto" is not a value)
        assert pre.status_code == 400, pre.text
    finally:
        delete(cloud, server_id)
        drop_auto_allocated(cloud)

"""The network service (Neutron v2.0) through the real ``openstack`` CLI and its HTTP API.

Runs on the session cloud; every test names its resources uniquely and removes them,
so the other suites see the cloud as they left it.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from network_clients import ADMIN, DEMO, http, neutron_error, osc, refused, unique

from cloudproc import Cloud


@pytest.fixture(scope="module")
def admin(cloud: Cloud) -> Iterator[httpx.Client]:
    with http(cloud, ADMIN) as c:
        yield c


@pytest.fixture(scope="module")
def demo(cloud: Cloud) -> Iterator[httpx.Client]:
    with http(cloud, DEMO) as c:
        yield c


def test_versions_and_extensions(cloud: Cloud, demo: httpx.Client) -> None:
    root = httpx.get(f"{cloud.network_url}/", timeout=30).json()
    assert [(v["id"], v["status"]) for v in root["versions"]] == [("v2.0", "CURRENT")]
    assert root["versions"][0]["links"][0]["href"].endswith("/v2.0/")
    names = {r["name"] for r in demo.get("").json()["resources"]}
    assert {"network", "subnet", "port", "security_group", "quota"} <= names
    aliases = {e["Alias"] for e in osc(cloud, "extension", "list", "--network")}
    assert {
        "security-group",
        "provider",
        "binding",
        "external-net",
        "quotas",
        "allowed-address-pairs",
        "port-security",
        "pagination",
        "sorting",
    } <= aliases
    assert "l3-ha" not in aliases  # routers are single namespaces, so not announced
    assert demo.get("/extensions/binding").json()["extension"]["alias"] == "binding"
    neutron_error(demo.get("/extensions/l3-ha"), 404, "ExtensionNotFound")


def test_network_subnet_port_lifecycle(cloud: Cloud) -> None:
    net = osc(cloud, "network", "create", unique("net"))
    assert net["status"] == "ACTIVE" and net["mtu"] == 1450 and not net["shared"]
    sub = osc(
        cloud,
        "subnet",
        "create",
        unique("sub"),
        "--network",
        net["id"],
        "--subnet-range",
        "10.40.0.0/29",
        "--dns-nameserver",
        "10.40.0.2",
        "--host-route",
        "destination=192.168.7.0/24,gateway=10.40.0.6",
    )
    assert sub["gateway_ip"] == "10.40.0.1"
    assert sub["allocation_pools"] == [{"start": "10.40.0.2", "end": "10.40.0.6"}]
    assert sub["dns_nameservers"] == ["10.40.0.2"]
    assert sub["host_routes"] == [{"destination": "192.168.7.0/24", "nexthop": "10.40.0.6"}]
    fixed = osc(
        cloud,
        "port",
        "create",
        unique("p"),
        "--network",
        net["id"],
        "--fixed-ip",
        f"subnet={sub['id']},ip-address=10.40.0.5",
    )
    assert fixed["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.40.0.5"}]
    assert fixed["mac_address"].startswith("fa:16:3e:")
    assert fixed["status"] == "DOWN"
    taken = refused(
        cloud,
        "port",
        "create",
        unique("p"),
        "--network",
        net["id"],
        "--fixed-ip",
        "ip-address=10.40.0.5",
    )
    assert "409" in taken and "already allocated" in taken
    ports = [
        osc(cloud, "port", "create", unique("p"), "--network", net["id"])["id"] for _ in range(4)
    ]
    full = refused(cloud, "port", "create", unique("p"), "--network", net["id"])
    assert "409" in full and "No more IP addresses available" in full
    listed = osc(cloud, "port", "list", "--network", net["id"], "--long")
    addresses = [ip["ip_address"] for p in listed for ip in p["Fixed IP Addresses"]]
    assert sorted(addresses) == [f"10.40.0.{i}" for i in range(2, 7)]
    # a deleted port's address, and the one a port moves away from, are free again
    victim = ports.pop()
    gone = osc(cloud, "port", "show", victim)["fixed_ips"][0]["ip_address"]
    cloud.cli("port", "delete", victim, cloud=DEMO)
    cloud.cli(
        "port",
        "set",
        "--no-fixed-ip",
        "--fixed-ip",
        f"subnet={sub['id']},ip-address={gone}",
        fixed["id"],
        cloud=DEMO,
    )
    assert osc(cloud, "port", "show", fixed["id"])["fixed_ips"][0]["ip_address"] == gone
    again = osc(
        cloud,
        "port",
        "create",
        unique("p"),
        "--network",
        net["id"],
        "--fixed-ip",
        "ip-address=10.40.0.5",
    )
    ports.append(again["id"])
    in_use = refused(cloud, "network", "delete", net["id"])
    assert "409" in in_use and "ports still in use" in in_use
    sub_in_use = refused(cloud, "subnet", "delete", sub["id"])
    assert "409" in sub_in_use and "One or more ports have an IP allocation" in sub_in_use
    cloud.cli("port", "delete", fixed["id"], *ports, cloud=DEMO)
    cloud.cli("subnet", "delete", sub["id"], cloud=DEMO)
    cloud.cli("network", "delete", net["id"], cloud=DEMO)
    assert "No Network found" in refused(cloud, "network", "show", net["id"])


def test_security_groups_and_rules(cloud: Cloud, demo: httpx.Client) -> None:
    default = next(g for g in osc(cloud, "security", "group", "list") if g["Name"] == "default")
    rules = osc(cloud, "security", "group", "rule", "list", default["ID"], "--long")
    shape = sorted((r["Direction"], r["Ethertype"], r["Remote Security Group"]) for r in rules)
    assert shape == [
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default["ID"]),
        ("ingress", "IPv6", default["ID"]),
    ]
    web = osc(cloud, "security", "group", "create", unique("web"))
    assert sorted(r["direction"] for r in web["rules"]) == ["egress", "egress"]
    ssh = osc(
        cloud,
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22:23",
        "--remote-ip",
        "10.0.0.0/8",
        web["id"],
    )
    assert (ssh["port_range_min"], ssh["port_range_max"], ssh["remote_ip_prefix"]) == (
        22,
        23,
        "10.0.0.0/8",
    )
    twice = refused(
        cloud,
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22:23",
        "--remote-ip",
        "10.0.0.0/8",
        web["id"],
    )
    assert "409" in twice and f"Rule id is {ssh['id']}" in twice
    peers = osc(
        cloud,
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "icmp",
        "--remote-group",
        default["ID"],
        web["id"],
    )
    assert peers["remote_group_id"] == default["ID"] and peers["protocol"] == "icmp"
    body = {
        "security_group_id": web["id"],
        "direction": "ingress",
        "ethertype": "IPv4",
        "remote_ip_prefix": "fd00::/8",
    }
    r = demo.post("/security-group-rules", json={"security_group_rule": body})
    assert "Conflicting value ethertype" in neutron_error(
        r, 400, "SecurityGroupRuleParameterConflict"
    )
    body = {"security_group_id": web["id"], "direction": "ingress", "port_range_min": 80}
    r = demo.post("/security-group-rules", json={"security_group_rule": body})
    neutron_error(r, 400, "SecurityGroupProtocolRequiredWithPorts")
    listed = osc(cloud, "security", "group", "rule", "list", web["id"])
    assert {r["ID"] for r in listed} >= {ssh["id"], peers["id"]}
    # a group in use cannot go; once no port uses it, it can
    net = osc(cloud, "network", "create", unique("net"))
    port = osc(
        cloud, "port", "create", unique("p"), "--network", net["id"], "--security-group", web["id"]
    )
    assert port["security_group_ids"] == [web["id"]]
    in_use = refused(cloud, "security", "group", "delete", web["id"])
    assert "409" in in_use and "in use" in in_use
    no_security = refused(cloud, "port", "set", "--disable-port-security", port["id"])
    assert "409" in no_security
    cloud.cli(
        "port", "set", "--no-security-group", "--disable-port-security", port["id"], cloud=DEMO
    )
    shown = osc(cloud, "port", "show", port["id"])
    assert shown["security_group_ids"] == [] and shown["port_security_enabled"] is False
    cloud.cli("security", "group", "rule", "delete", ssh["id"], cloud=DEMO)
    cloud.cli("security", "group", "delete", web["id"], cloud=DEMO)
    cloud.cli("port", "delete", port["id"], cloud=DEMO)
    cloud.cli("network", "delete", net["id"], cloud=DEMO)
    undeletable = refused(cloud, "security", "group", "delete", default["ID"])
    assert "409" in undeletable and "default security group" in undeletable


def test_projects_are_isolated(cloud: Cloud, admin: httpx.Client, demo: httpx.Client) -> None:
    private = osc(cloud, "network", "create", unique("adm"), who=ADMIN)
    shared = osc(cloud, "network", "create", "--share", unique("shr"), who=ADMIN)
    osc(
        cloud,
        "subnet",
        "create",
        unique("s"),
        "--network",
        shared["id"],
        "--subnet-range",
        "10.41.0.0/24",
        who=ADMIN,
    )
    mine = osc(cloud, "network", "create", unique("dmo"))
    try:
        seen = {n["ID"] for n in osc(cloud, "network", "list")}
        assert shared["id"] in seen and mine["id"] in seen and private["id"] not in seen
        assert "No Network found" in refused(cloud, "network", "show", private["id"])
        neutron_error(demo.get(f"/networks/{private['id']}"), 404, "NetworkNotFound")
        assert mine["id"] in {n["ID"] for n in osc(cloud, "network", "list", who=ADMIN)}
        # provider attributes are the admin's to see and to set
        assert (
            "provider:segmentation_id" not in demo.get(f"/networks/{mine['id']}").json()["network"]
        )
        assert admin.get(f"/networks/{mine['id']}").json()["network"]["provider:segmentation_id"]
        forbidden = refused(
            cloud, "network", "create", "--provider-network-type", "vxlan", unique("x")
        )
        assert "403" in forbidden
        # a shared network takes anyone's ports, but its subnets stay the owner's to make
        port = osc(cloud, "port", "create", unique("p"), "--network", shared["id"])
        assert port["fixed_ips"][0]["ip_address"].startswith("10.41.0.")
        assert "403" in refused(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            shared["id"],
            "--subnet-range",
            "10.42.0.0/24",
        )
        admin_ports = {p["ID"] for p in osc(cloud, "port", "list", who=ADMIN)}
        assert port["id"] in admin_ports
        admin_port = osc(cloud, "port", "create", unique("p"), "--network", shared["id"], who=ADMIN)
        assert admin_port["id"] not in {p["ID"] for p in osc(cloud, "port", "list")}
        neutron_error(demo.delete(f"/ports/{admin_port['id']}"), 404, "PortNotFound")
        cloud.cli("port", "delete", port["id"], admin_port["id"], cloud=ADMIN)
        admin_groups = {g["ID"] for g in osc(cloud, "security", "group", "list", who=ADMIN)}
        demo_groups = {g["ID"] for g in osc(cloud, "security", "group", "list")}
        assert demo_groups < admin_groups  # the admin sees every project's, demo its own
        demo_project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
        listed = demo.get("/security-groups").json()["security_groups"]
        assert {g["project_id"] for g in listed} == {demo_project}
    finally:
        cloud.cli("network", "delete", private["id"], shared["id"], mine["id"], cloud=ADMIN)


def test_quota_limits_networks(cloud: Cloud, admin: httpx.Client, demo: httpx.Client) -> None:
    project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    used = len(demo.get("/networks", params={"project_id": project}).json()["networks"])
    cloud.cli("quota", "set", "--networks", str(used + 1), "demo")
    created = []
    try:
        quota = demo.get(f"/quotas/{project}").json()["quota"]
        assert quota["network"] == used + 1 and quota["port"] == 500
        details = demo.get(f"/quotas/{project}/details").json()["quota"]
        assert details["network"] == {"limit": used + 1, "used": used, "reserved": 0}
        created.append(osc(cloud, "network", "create", unique("q"))["id"])
        over = refused(cloud, "network", "create", unique("q"))
        assert "409" in over and "Quota exceeded for resources: ['network']" in over
        r = demo.post("/networks", json={"network": {"name": unique("q")}})
        neutron_error(r, 409, "OverQuota")
        neutron_error(
            demo.put(f"/quotas/{project}", json={"quota": {"network": 50}}),
            403,
            "PolicyNotAuthorized",
        )
        low = refused(cloud, "quota", "set", "--networks", "0", "--check-limit", "demo", who=ADMIN)
        assert "must be greater than or equal to already used" in low
    finally:
        assert admin.delete(f"/quotas/{project}").status_code == 204
        if created:
            cloud.cli("network", "delete", *created, cloud=DEMO)
    assert demo.get(f"/quotas/{project}").json()["quota"]["network"] == 100


def test_bad_input_is_refused(cloud: Cloud, demo: httpx.Client) -> None:
    net = osc(cloud, "network", "create", unique("bad"))
    try:
        bad_cidr = refused(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            net["id"],
            "--subnet-range",
            "10.43.0.1/24",
        )
        assert "400" in bad_cidr and "'10.43.0.0/24' is recommended" in bad_cidr
        assert "400" in refused(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            net["id"],
            "--subnet-range",
            "10.43.0.0/33",
        )
        osc(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            net["id"],
            "--subnet-range",
            "10.43.0.0/24",
        )
        overlap = refused(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            net["id"],
            "--subnet-range",
            "10.43.0.128/25",
        )
        assert "400" in overlap and "overlaps with another subnet" in overlap
        pools = {
            "network_id": net["id"],
            "ip_version": 4,
            "cidr": "10.44.0.0/24",
            "allocation_pools": [
                {"start": "10.44.0.10", "end": "10.44.0.20"},
                {"start": "10.44.0.15", "end": "10.44.0.30"},
            ],
        }
        r = demo.post("/subnets", json={"subnet": pools})
        neutron_error(r, 409, "OverlappingAllocationPools")  # Neutron's status for this one
        outside = refused(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            net["id"],
            "--subnet-range",
            "10.45.0.0/24",
            "--allocation-pool",
            "start=10.46.0.2,end=10.46.0.9",
        )
        assert "400" in outside and "spans beyond the subnet cidr" in outside
        gateway = refused(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            net["id"],
            "--subnet-range",
            "10.47.0.0/24",
            "--gateway",
            "10.47.0.5",
            "--allocation-pool",
            "start=10.47.0.2,end=10.47.0.9",
        )
        assert "409" in gateway and "conflicts with allocation pool" in gateway
        mac = refused(
            cloud,
            "port",
            "create",
            unique("p"),
            "--network",
            net["id"],
            "--mac-address",
            "01:00:5e:00:00:01",
        )
        assert "400" in mac and "not a valid MAC address" in mac
        r = demo.post("/ports", json={"port": {"network_id": "not-a-uuid"}})
        assert "not a valid UUID" in neutron_error(r, 400, "InvalidInput")
        r = demo.post("/networks", json={"network": {"name": "x", "colour": "blue"}})
        assert "Unrecognized attribute(s) 'colour'" in neutron_error(r, 400, "HTTPBadRequest")
        neutron_error(demo.get(f"/subnets/{uuid.uuid4()}"), 404, "SubnetNotFound")
        neutron_error(demo.get("/networks", params={"colour": "blue"}), 400, "HTTPBadRequest")
        neutron_error(demo.post("/networks", content=b"{not json"), 400, "HTTPBadRequest")
    finally:
        ports = demo.get("/ports", params={"network_id": net["id"]}).json()["ports"]
        for port in ports:
            demo.delete(f"/ports/{port['id']}")
        cloud.cli("network", "delete", net["id"], cloud=DEMO)


def test_lists_filter_sort_page_and_select_fields(cloud: Cloud, demo: httpx.Client) -> None:
    tag = unique("page")
    ids = []
    for name in ("c", "a", "b"):
        r = demo.post("/networks", json={"network": {"name": f"{tag}-{name}", "description": tag}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["network"]["id"])
    try:
        params: dict[str, Any] = {
            "description": tag,
            "sort_key": "name",
            "sort_dir": "asc",
            "limit": 2,
            "fields": ["name", "id"],
        }
        first = demo.get("/networks", params=params).json()
        assert [n["name"] for n in first["networks"]] == [f"{tag}-a", f"{tag}-b"]
        assert set(first["networks"][0]) == {"name", "id"}
        (link,) = [lk["href"] for lk in first["networks_links"] if lk["rel"] == "next"]
        second = demo.get(link).json()
        assert [n["name"] for n in second["networks"]] == [f"{tag}-c"]
        assert [lk["rel"] for lk in second["networks_links"]] == ["previous"]
        back = demo.get(second["networks_links"][0]["href"]).json()
        assert [n["name"] for n in back["networks"]] == [f"{tag}-a", f"{tag}-b"]
        desc = demo.get(
            "/networks", params={"description": tag, "sort_key": "name", "sort_dir": "desc"}
        ).json()
        assert [n["name"] for n in desc["networks"]] == [f"{tag}-c", f"{tag}-b", f"{tag}-a"]
        both = demo.get("/networks", params={"id": ids[:2]}).json()["networks"]
        assert {n["id"] for n in both} == set(ids[:2])
        cli = osc(cloud, "network", "list", "--name", f"{tag}-b")
        assert [n["ID"] for n in cli] == [ids[2]]
        neutron_error(
            demo.get("/networks", params={"sort_key": "colour", "sort_dir": "asc"}),
            400,
            "HTTPBadRequest",
        )
    finally:
        for ident in ids:
            assert demo.delete(f"/networks/{ident}").status_code == 204


def test_ipv6_and_admin_provider_networks(cloud: Cloud, admin: httpx.Client) -> None:
    net = osc(cloud, "network", "create", unique("v6"))
    try:
        sub = osc(
            cloud,
            "subnet",
            "create",
            unique("s"),
            "--network",
            net["id"],
            "--ip-version",
            "6",
            "--subnet-range",
            "fd00:48::/64",
            "--ipv6-ra-mode",
            "slaac",
            "--ipv6-address-mode",
            "slaac",
        )
        assert sub["gateway_ip"] == "fd00:48::1" and sub["ipv6_address_mode"] == "slaac"
        port = osc(cloud, "port", "create", unique("p"), "--network", net["id"])
        octets = [int(part, 16) for part in port["mac_address"].split(":")]
        octets[0] ^= 2  # EUI-64: the universal/local bit flipped, ff:fe in the middle
        interface = bytes([*octets[:3], 0xFF, 0xFE, *octets[3:]])
        expected = ipaddress.IPv6Network("fd00:48::/64")[int.from_bytes(interface, "big")]
        assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": str(expected)}]
        cloud.cli("port", "delete", port["id"], cloud=DEMO)
    finally:
        cloud.cli("network", "delete", net["id"], cloud=DEMO)
    flat = osc(
        cloud,
        "network",
        "create",
        "--external",
        "--provider-network-type",
        "flat",
        "--provider-physical-network",
        "physnet1",
        unique("pub"),
        who=ADMIN,
    )
    vlan = osc(
        cloud,
        "network",
        "create",
        "--provider-network-type",
        "vlan",
        "--provider-physical-network",
        "physnet1",
        "--provider-segment",
        "150",
        unique("vl"),
        who=ADMIN,
    )
    try:
        assert flat["router:external"] is True and flat["mtu"] == 1500
        assert flat["provider:network_type"] == "flat"
        assert (vlan["provider:network_type"], vlan["provider:segmentation_id"]) == ("vlan", 150)
        again = refused(
            cloud,
            "network",
            "create",
            "--provider-network-type",
            "vlan",
            "--provider-physical-network",
            "physnet1",
            "--provider-segment",
            "150",
            unique("vl"),
            who=ADMIN,
        )
        assert "409" in again and "VLAN 150 on physical network physnet1 is in use" in again
        assert flat["id"] in {n["ID"] for n in osc(cloud, "network", "list", "--external")}
        port = {"network_id": vlan["id"], "binding:host_id": "node-1"}
        bound = admin.post("/ports", json={"port": port}).json()["port"]
        assert bound["binding:vif_type"] == "bridge" and bound["binding:host_id"] == "node-1"
        r = admin.put(f"/ports/{bound['id']}", json={"port": {"binding:host_id": ""}})
        assert r.json()["port"]["binding:vif_type"] == "unbound"
        assert admin.delete(f"/ports/{bound['id']}").status_code == 204
    finally:
        cloud.cli("network", "delete", flat["id"], vlan["id"], cloud=ADMIN)

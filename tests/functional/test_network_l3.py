"""Routers, floating IPs, port forwardings and auto-allocated topologies (Neutron's L3
API) through the real ``openstack`` CLI and the HTTP API, on the session cloud.

Every test names its resources uniquely and removes them (in ``finally``), so the other
suites see the cloud as they left it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


class Cleanup:
    """Deletes what a test made, last made first, whatever happened in the test."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], object]] = []

    def add(self, step: Callable[[], object]) -> None:
        self.steps.append(step)

    def run(self) -> None:
        for step in reversed(self.steps):
            with contextlib.suppress(Exception):
                step()


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    c = Cleanup()
    try:
        yield c
    finally:
        c.run()


def public(admin: httpx.Client) -> dict[str, Any]:
    nets = admin.get("/networks", params={"name": "public"}).json()["networks"]
    assert len(nets) == 1, nets
    return dict(nets[0])


@dataclass
class Private:
    net: dict[str, Any]
    subnet: dict[str, Any]


def private(cloud: Cloud, c: Cleanup, cidr: str, who: str = DEMO) -> Private:
    net = osc(cloud, "network", "create", unique("net"), who=who)
    c.add(lambda: cloud.cli("network", "delete", net["id"], cloud=who, check=False))
    sub = osc(
        cloud,
        "subnet",
        "create",
        unique("sub"),
        "--network",
        net["id"],
        "--subnet-range",
        cidr,
        who=who,
    )
    return Private(net, sub)


def router(cloud: Cloud, c: Cleanup, who: str = DEMO, gateway: bool = True) -> dict[str, Any]:
    r = osc(cloud, "router", "create", unique("r"), who=who)
    c.add(lambda: cloud.cli("router", "delete", r["id"], cloud=who, check=False))
    if gateway:
        cloud.cli("router", "set", "--external-gateway", "public", r["id"], cloud=who)
    return dict(r)


def connect(
    cloud: Cloud, c: Cleanup, r: dict[str, Any], sub: dict[str, Any], who: str = DEMO
) -> None:
    cloud.cli("router", "add", "subnet", r["id"], sub["id"], cloud=who)
    c.add(
        lambda: cloud.cli("router", "remove", "subnet", r["id"], sub["id"], cloud=who, check=False)
    )


def test_extensions_and_public_network(cloud: Cloud, admin: httpx.Client) -> None:
    aliases = {e["Alias"] for e in osc(cloud, "extension", "list", "--network")}
    assert {
        "router",
        "ext-gw-mode",
        "extraroute",
        "floating-ip-port-forwarding",
        "auto-allocated-topology",
    } <= aliases
    assert not {"l3-ha", "dvr", "l3-flavors", "external-gateway-multihoming"} & aliases
    pub = osc(cloud, "network", "show", "public")
    assert pub["router:external"] is True and pub["shared"] is True
    assert pub["is_default"] is True
    sub = osc(cloud, "subnet", "show", pub["subnets"][0])
    assert (sub["cidr"], sub["gateway_ip"], sub["enable_dhcp"]) == (
        "172.24.4.0/24",
        "172.24.4.1",
        False,
    )
    public(admin)  # exactly one
    # a second default external network is refused; is_default is the admin's
    other = osc(cloud, "network", "create", "--external", unique("ext"), who=ADMIN)
    try:
        r = admin.put(f"/networks/{other['id']}", json={"network": {"is_default": True}})
        neutron_error(r, 409, "DefaultExternalNetworkExists")
    finally:
        cloud.cli("network", "delete", other["id"], cloud=ADMIN)


def test_router_gateway_and_snat(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, cleanup: Cleanup
) -> None:
    lan = private(cloud, cleanup, "10.49.0.0/24")
    r = router(cloud, cleanup)
    shown = osc(cloud, "router", "show", r["id"])
    info = shown["external_gateway_info"]
    assert info["network_id"] == public(admin)["id"] and info["enable_snat"] is True
    [gw_ip] = info["external_fixed_ips"]
    assert ipaddress.ip_address(gw_ip["ip_address"]) in ipaddress.ip_network("172.24.4.0/24")
    assert shown["status"] == "ACTIVE"
    owned = {"device_id": r["id"], "device_owner": "network:router_gateway"}
    [gw_port] = admin.get("/ports", params=owned).json()["ports"]
    assert gw_port["fixed_ips"] == [gw_ip] and gw_port["network_id"] == info["network_id"]
    # only an admin turns SNAT off
    assert "403" in refused(
        cloud, "router", "set", "--external-gateway", "public", "--disable-snat", r["id"]
    )
    cloud.cli(
        "router", "set", "--external-gateway", "public", "--disable-snat", r["id"], cloud=ADMIN
    )
    assert osc(cloud, "router", "show", r["id"])["external_gateway_info"]["enable_snat"] is False
    # the gateway port is the router's, not the port API's; it goes with the gateway
    neutron_error(admin.delete(f"/ports/{gw_port['id']}"), 409, "L3PortInUse")
    cloud.cli("router", "unset", "--external-gateway", r["id"], cloud=DEMO)
    assert osc(cloud, "router", "show", r["id"])["external_gateway_info"] is None
    neutron_error(admin.get(f"/ports/{gw_port['id']}"), 404, "PortNotFound")
    # a gateway only on an external network
    not_external = demo.put(
        f"/routers/{r['id']}",
        json={"router": {"external_gateway_info": {"network_id": lan.net["id"]}}},
    )
    assert "is not an external network" in neutron_error(not_external, 400, "BadRequest")
    cloud.cli("router", "delete", r["id"], cloud=DEMO)
    neutron_error(demo.get(f"/routers/{r['id']}"), 404, "RouterNotFound")


def test_router_interfaces(cloud: Cloud, demo: httpx.Client, cleanup: Cleanup) -> None:
    lan = private(cloud, cleanup, "10.50.0.0/24")
    r = router(cloud, cleanup)
    connect(cloud, cleanup, r, lan.subnet)
    [iface] = osc(cloud, "port", "list", "--router", r["id"], "--long")
    port = osc(cloud, "port", "show", iface["ID"])
    assert port["device_owner"] == "network:router_interface" and port["device_id"] == r["id"]
    assert port["fixed_ips"] == [{"subnet_id": lan.subnet["id"], "ip_address": "10.50.0.1"}]
    # what a router holds cannot be removed under it
    assert "409" in refused(cloud, "router", "delete", r["id"])
    neutron_error(demo.delete(f"/routers/{r['id']}"), 409, "RouterInUse")
    neutron_error(demo.delete(f"/ports/{port['id']}"), 409, "L3PortInUse")
    neutron_error(demo.delete(f"/subnets/{lan.subnet['id']}"), 409, "SubnetInUse")
    neutron_error(demo.delete(f"/networks/{lan.net['id']}"), 409, "NetworkInUse")
    twice = demo.put(
        f"/routers/{r['id']}/add_router_interface", json={"subnet_id": lan.subnet["id"]}
    )
    assert "already has a port on subnet" in neutron_error(twice, 400, "BadRequest")
    other = router(cloud, cleanup, gateway=False)
    elsewhere = demo.put(
        f"/routers/{other['id']}/add_router_interface", json={"subnet_id": lan.subnet["id"]}
    )
    assert "10.50.0.1 already allocated" in neutron_error(
        elsewhere, 409, "IpAddressAlreadyAllocated"
    )
    cloud.cli("router", "remove", "subnet", r["id"], lan.subnet["id"], cloud=DEMO)
    assert osc(cloud, "port", "list", "--router", r["id"]) == []
    # by port: the port becomes the interface, and goes with it
    spare = osc(cloud, "port", "create", unique("p"), "--network", lan.net["id"])
    cloud.cli("router", "add", "port", r["id"], spare["id"], cloud=DEMO)
    assert osc(cloud, "port", "show", spare["id"])["device_owner"] == "network:router_interface"
    cloud.cli("router", "remove", "port", r["id"], spare["id"], cloud=DEMO)
    assert "No Port found" in refused(cloud, "port", "show", spare["id"])


def test_router_static_routes(cloud: Cloud, demo: httpx.Client, cleanup: Cleanup) -> None:
    lan = private(cloud, cleanup, "10.48.0.0/24")
    r = router(cloud, cleanup, gateway=False)
    connect(cloud, cleanup, r, lan.subnet)
    route = "destination=192.168.50.0/24,gateway=10.48.0.9"
    cloud.cli("router", "set", "--route", route, r["id"], cloud=DEMO)
    assert osc(cloud, "router", "show", r["id"])["routes"] == [
        {"destination": "192.168.50.0/24", "nexthop": "10.48.0.9"}
    ]
    far = refused(
        cloud, "router", "set", "--route", "destination=192.168.51.0/24,gateway=10.99.0.9", r["id"]
    )
    assert "400" in far and "not connected with router" in far
    own = {"router": {"routes": [{"destination": "192.168.52.0/24", "nexthop": "10.48.0.1"}]}}
    neutron_error(demo.put(f"/routers/{r['id']}", json=own), 400, "InvalidRoutes")
    needed = demo.put(
        f"/routers/{r['id']}/remove_router_interface", json={"subnet_id": lan.subnet["id"]}
    )
    neutron_error(needed, 409, "RouterInterfaceInUseByRoute")
    cloud.cli("router", "set", "--no-route", r["id"], cloud=DEMO)
    assert osc(cloud, "router", "show", r["id"])["routes"] == []


def l3_of(cloud: Cloud, router_id: str) -> Any:
    """What the data plane would be told about one router, read from the cloud's tables."""
    from stratus.common.db import Database  # noqa: PLC0415 - the service's own reader
    from stratus.network import l3_view  # noqa: PLC0415

    async def read() -> Any:
        db = Database(f"sqlite+aiosqlite:///{cloud.state_dir / 'network.sqlite'}")
        try:
            return await l3_view.read(db, [router_id])
        finally:
            await db.close()

    [found] = asyncio.run(read())
    return found


@dataclass
class Routed:
    """A demo subnet behind a router with a gateway on ``public``, and a port on it."""

    lan: Private
    router: dict[str, Any]
    vm: dict[str, Any]

    @property
    def fixed(self) -> str:
        return str(self.vm["fixed_ips"][0]["ip_address"])


@pytest.fixture
def routed(cloud: Cloud, cleanup: Cleanup) -> Routed:
    lan = private(cloud, cleanup, "10.51.0.0/24")
    r = router(cloud, cleanup)
    connect(cloud, cleanup, r, lan.subnet)
    vm = osc(cloud, "port", "create", unique("vm"), "--network", lan.net["id"])
    cleanup.add(lambda: cloud.cli("port", "delete", vm["id"], cloud=DEMO, check=False))
    return Routed(lan, r, vm)


def floating_ip(cloud: Cloud, c: Cleanup, *args: str) -> dict[str, Any]:
    fip = osc(cloud, "floating", "ip", "create", "public", *args)
    c.add(lambda: cloud.cli("floating", "ip", "delete", fip["id"], cloud=DEMO, check=False))
    return dict(fip)


def test_floating_ip_association(
    cloud: Cloud, demo: httpx.Client, cleanup: Cleanup, routed: Routed
) -> None:
    vm, r = routed.vm, routed.router
    fip = floating_ip(cloud, cleanup, "--description", "web")
    assert ipaddress.ip_address(fip["floating_ip_address"]) in ipaddress.ip_network("172.24.4.0/24")
    assert (fip["status"], fip["port_id"], fip["router_id"]) == ("DOWN", None, None)
    cloud.cli("floating", "ip", "set", "--port", vm["id"], fip["id"], cloud=DEMO)
    shown = osc(cloud, "floating", "ip", "show", fip["id"])
    assert (shown["status"], shown["port_id"], shown["fixed_ip_address"], shown["router_id"]) == (
        "ACTIVE",
        vm["id"],
        routed.fixed,
        r["id"],
    )
    details = demo.get(f"/floatingips/{fip['id']}").json()["floatingip"]["port_details"]
    assert details["mac_address"] == vm["mac_address"]
    # the data plane's view: gateway, interface, the 1:1 mapping
    view = l3_of(cloud, r["id"])
    assert view.gateway is not None and view.gateway.enable_snat
    assert view.gateway.gateway_ip == "172.24.4.1" and view.gateway.cidr.endswith("/24")
    assert [(i.subnet_cidr, i.ip_address, i.mtu) for i in view.interfaces] == [
        ("10.51.0.0/24", "10.51.0.1", 1450)
    ]
    assert view.gateway.mtu == 1500 and view.gateway.port_id
    assert [(f.floating_ip_address, f.fixed_ip_address) for f in view.floating_ips] == [
        (fip["floating_ip_address"], routed.fixed)
    ]
    # one fixed address, one floating IP
    second = floating_ip(cloud, cleanup)
    taken = demo.put(f"/floatingips/{second['id']}", json={"floatingip": {"port_id": vm["id"]}})
    neutron_error(taken, 409, "FloatingIPPortAlreadyAssociated")
    # the floating IP's interface cannot leave the router, nor the gateway
    busy = demo.put(
        f"/routers/{r['id']}/remove_router_interface",
        json={"subnet_id": routed.lan.subnet["id"]},
    )
    neutron_error(busy, 409, "RouterInterfaceInUseByFloatingIP")
    gateway_off = demo.put(f"/routers/{r['id']}", json={"router": {"external_gateway_info": None}})
    neutron_error(gateway_off, 409, "RouterExternalGatewayInUseByFloatingIp")
    # a port no router reaches
    island = private(cloud, cleanup, "10.52.0.0/24")
    lonely = osc(cloud, "port", "create", unique("p"), "--network", island.net["id"])
    cleanup.add(lambda: cloud.cli("port", "delete", lonely["id"], cloud=DEMO, check=False))
    unreachable = demo.put(
        f"/floatingips/{second['id']}", json={"floatingip": {"port_id": lonely["id"]}}
    )
    neutron_error(unreachable, 404, "ExternalGatewayForFloatingIPNotFound")
    cloud.cli("floating", "ip", "unset", "--port", fip["id"], cloud=DEMO)
    assert osc(cloud, "floating", "ip", "show", fip["id"])["status"] == "DOWN"
    assert l3_of(cloud, r["id"]).floating_ips == []


def test_port_forwardings(
    cloud: Cloud, demo: httpx.Client, cleanup: Cleanup, routed: Routed
) -> None:
    vm, fip = routed.vm, floating_ip(cloud, cleanup)
    pf = osc(
        cloud,
        "floating",
        "ip",
        "port",
        "forwarding",
        "create",
        "--internal-ip-address",
        routed.fixed,
        "--port",
        vm["id"],
        "--internal-protocol-port",
        "22",
        "--external-protocol-port",
        "2222",
        "--protocol",
        "tcp",
        fip["id"],
    )
    assert (pf["external_port"], pf["internal_port"], pf["protocol"]) == (2222, 22, "tcp")
    assert osc(cloud, "floating", "ip", "show", fip["id"])["router_id"] == routed.router["id"]
    pfs = f"/floatingips/{fip['id']}/port_forwardings"
    body = {
        "protocol": "tcp",
        "external_port": 2222,
        "internal_port": 23,
        "internal_port_id": vm["id"],
        "internal_ip_address": routed.fixed,
    }
    dup = demo.post(pfs, json={"port_forwarding": body})
    assert "duplicate port forwarding" in neutron_error(dup, 400, "BadRequest")
    icmp = demo.post(pfs, json={"port_forwarding": body | {"protocol": "icmp"}})
    neutron_error(icmp, 400, "InvalidInput")
    with_pf = demo.put(f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": vm["id"]}})
    neutron_error(with_pf, 409, "FipInUseByPortForwarding")
    [rule] = l3_of(cloud, routed.router["id"]).port_forwardings
    assert (rule.floating_ip_address, rule.external_port, rule.internal_ip_address) == (
        fip["floating_ip_address"],
        2222,
        routed.fixed,
    )
    listed = osc(cloud, "floating", "ip", "port", "forwarding", "list", fip["id"])
    assert [p["ID"] for p in listed] == [pf["id"]]
    moved = demo.put(f"{pfs}/{pf['id']}", json={"port_forwarding": {"internal_port": 2022}})
    assert moved.json()["port_forwarding"]["internal_port"] == 2022
    # deleting the port takes its forwardings, and the floating IP lets go of the router
    cloud.cli("port", "delete", vm["id"], cloud=DEMO)
    assert demo.get(pfs).json()["port_forwardings"] == []
    assert osc(cloud, "floating", "ip", "show", fip["id"])["router_id"] is None


def test_floating_ip_ports_and_deleted_ports(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, cleanup: Cleanup, routed: Routed
) -> None:
    fip = floating_ip(cloud, cleanup, "--port", routed.vm["id"])  # created mapped
    assert (fip["port_id"], fip["status"]) == (routed.vm["id"], "ACTIVE")
    listed = osc(cloud, "floating", "ip", "list", "--port", routed.vm["id"])
    assert [f["ID"] for f in listed] == [fip["id"]]
    # the external network stays external while gateways and floating IPs are on it
    pub = public(admin)["id"]
    unexternal = admin.put(f"/networks/{pub}", json={"network": {"router:external": False}})
    neutron_error(unexternal, 409, "ExternalNetworkInUse")
    # deleting the port unmaps the floating IP
    cloud.cli("port", "delete", routed.vm["id"], cloud=DEMO)
    after = osc(cloud, "floating", "ip", "show", fip["id"])
    assert (after["port_id"], after["fixed_ip_address"], after["status"]) == (None, None, "DOWN")
    # its own port cannot be deleted directly; deleting the floating IP frees the address
    [fip_port] = admin.get("/ports", params={"device_id": fip["id"]}).json()["ports"]
    assert fip_port["device_owner"] == "network:floatingip"
    neutron_error(admin.delete(f"/ports/{fip_port['id']}"), 409, "L3PortInUse")
    cloud.cli("floating", "ip", "delete", fip["id"], cloud=DEMO)
    neutron_error(admin.get(f"/ports/{fip_port['id']}"), 404, "PortNotFound")
    neutron_error(demo.get(f"/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")


Case = tuple[str, str, Any, int, str]  # method, path, body, status, NeutronError type


def expect_errors(client: httpx.Client, cases: list[Case]) -> None:
    for method, path, body, status, kind in cases:
        response = client.request(method, path, json=body)
        neutron_error(response, status, kind)


def test_router_bad_input_is_neutron_4xx(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, cleanup: Cleanup
) -> None:
    lan = private(cloud, cleanup, "10.53.0.0/24")
    r = router(cloud, cleanup, gateway=False)
    no_snat = {"network_id": public(admin)["id"], "enable_snat": False}
    bad_route = {"routes": [{"destination": "1.2.3.4", "nexthop": "x"}]}
    add, remove = (
        f"/routers/{r['id']}/add_router_interface",
        f"/routers/{r['id']}/remove_router_interface",
    )
    sub = {"subnet_id": lan.subnet["id"]}
    expect_errors(
        demo,
        [
            ("POST", "/routers", {"router": {"routes": []}}, 400, "HTTPBadRequest"),
            ("POST", "/routers", {"router": {"ha": True}}, 400, "HTTPBadRequest"),
            ("POST", "/routers", {"router": {"external_gateway_info": "x"}}, 400, "InvalidInput"),
            (
                "POST",
                "/routers",
                {"router": {"external_gateway_info": no_snat}},
                403,
                "PolicyNotAuthorized",
            ),
            ("PUT", f"/routers/{r['id']}", {"router": bad_route}, 400, "InvalidInput"),
            ("PUT", add, {}, 400, "BadRequest"),
            ("PUT", add, {"subnet_id": "nope"}, 400, "InvalidInput"),
            ("PUT", add, {"subnet_id": str(uuid.uuid4())}, 404, "SubnetNotFound"),
            ("PUT", add, sub | {"port_id": str(uuid.uuid4())}, 400, "BadRequest"),
            ("PUT", remove, sub, 404, "RouterInterfaceNotFoundForSubnet"),
            ("PUT", remove, {"port_id": str(uuid.uuid4())}, 404, "RouterInterfaceNotFound"),
            ("PUT", f"/routers/{uuid.uuid4()}/add_router_interface", sub, 404, "RouterNotFound"),
            ("GET", "/routers/not-a-uuid", None, 404, "RouterNotFound"),
            (
                "PUT",
                f"/networks/{lan.net['id']}",
                {"network": {"is_default": True}},
                403,
                "PolicyNotAuthorized",
            ),
            (
                "GET",
                f"/auto-allocated-topology/{uuid.uuid4().hex}",
                None,
                403,
                "PolicyNotAuthorized",
            ),
        ],
    )
    default_internal = {"network": {"is_default": True}}
    expect_errors(
        admin, [("PUT", f"/networks/{lan.net['id']}", default_internal, 400, "BadRequest")]
    )


def test_floating_ip_bad_input_is_neutron_4xx(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, cleanup: Cleanup
) -> None:
    lan = private(cloud, cleanup, "10.56.0.0/24")
    pub = public(admin)["id"]
    chosen = {"floating_network_id": pub, "floating_ip_address": "172.24.4.99"}
    missing_fip = f"/floatingips/{uuid.uuid4()}"
    expect_errors(
        demo,
        [
            ("POST", "/floatingips", {"floatingip": {}}, 400, "HTTPBadRequest"),
            (
                "POST",
                "/floatingips",
                {"floatingip": {"floating_network_id": lan.net["id"]}},
                400,
                "BadRequest",
            ),
            ("POST", "/floatingips", {"floatingip": chosen}, 403, "PolicyNotAuthorized"),
            (
                "POST",
                "/floatingips",
                {"floatingip": {"floating_network_id": str(uuid.uuid4())}},
                404,
                "NetworkNotFound",
            ),
            (
                "POST",
                "/floatingips",
                {"floatingip": {"floating_network_id": pub, "port_id": 7}},
                400,
                "InvalidInput",
            ),
            ("PUT", missing_fip, {"floatingip": {"port_id": None}}, 404, "FloatingIPNotFound"),
            (
                "POST",
                f"{missing_fip}/port_forwardings",
                {"port_forwarding": {}},
                400,
                "HTTPBadRequest",
            ),
            ("GET", f"{missing_fip}/port_forwardings", None, 404, "FloatingIPNotFound"),
        ],
    )
    gateway_address = {"floating_network_id": pub, "floating_ip_address": "172.24.4.1"}
    expect_errors(
        admin,
        [
            (
                "POST",
                "/floatingips",
                {"floatingip": gateway_address},
                409,
                "IpAddressAlreadyAllocated",
            )
        ],
    )


def test_projects_cannot_use_each_others_routers_and_floating_ips(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, cleanup: Cleanup
) -> None:
    theirs = router(cloud, cleanup, who=ADMIN)
    admin_lan = private(cloud, cleanup, "10.54.0.0/24", who=ADMIN)
    connect(cloud, cleanup, theirs, admin_lan.subnet, who=ADMIN)
    admin_port = osc(
        cloud, "port", "create", unique("p"), "--network", admin_lan.net["id"], who=ADMIN
    )
    cleanup.add(lambda: cloud.cli("port", "delete", admin_port["id"], cloud=ADMIN, check=False))
    their_fip = osc(cloud, "floating", "ip", "create", "public", who=ADMIN)
    cleanup.add(
        lambda: cloud.cli("floating", "ip", "delete", their_fip["id"], cloud=ADMIN, check=False)
    )
    assert theirs["id"] not in {x["ID"] for x in osc(cloud, "router", "list")}
    assert their_fip["id"] not in {x["ID"] for x in osc(cloud, "floating", "ip", "list")}
    neutron_error(demo.get(f"/routers/{theirs['id']}"), 404, "RouterNotFound")
    neutron_error(demo.delete(f"/routers/{theirs['id']}"), 404, "RouterNotFound")
    neutron_error(demo.get(f"/floatingips/{their_fip['id']}"), 404, "FloatingIPNotFound")
    neutron_error(
        demo.put(f"/floatingips/{their_fip['id']}", json={"floatingip": {"port_id": None}}),
        404,
        "FloatingIPNotFound",
    )
    lan = private(cloud, cleanup, "10.55.0.0/24")
    add = demo.put(
        f"/routers/{theirs['id']}/add_router_interface", json={"subnet_id": lan.subnet["id"]}
    )
    neutron_error(add, 404, "RouterNotFound")
    mine = router(cloud, cleanup, gateway=False)
    foreign = demo.put(
        f"/routers/{mine['id']}/add_router_interface", json={"subnet_id": admin_lan.subnet["id"]}
    )
    neutron_error(foreign, 404, "SubnetNotFound")
    my_fip = osc(cloud, "floating", "ip", "create", "public")
    cleanup.add(
        lambda: cloud.cli("floating", "ip", "delete", my_fip["id"], cloud=DEMO, check=False)
    )
    steal = demo.put(
        f"/floatingips/{my_fip['id']}", json={"floatingip": {"port_id": admin_port["id"]}}
    )
    neutron_error(steal, 404, "PortNotFound")
    # the admin sees everyone's
    assert my_fip["id"] in {x["ID"] for x in osc(cloud, "floating", "ip", "list", who=ADMIN)}


def test_router_and_floatingip_quotas(
    cloud: Cloud, admin: httpx.Client, demo: httpx.Client, cleanup: Cleanup
) -> None:
    project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    cleanup.add(lambda: admin.delete(f"/quotas/{project}"))
    detail = admin.get(f"/quotas/{project}/details").json()["quota"]
    assert {"router", "floatingip"} <= set(detail)
    limits = {"router": detail["router"]["used"], "floatingip": detail["floatingip"]["used"]}
    r = admin.put(f"/quotas/{project}", json={"quota": limits})
    assert r.status_code == 200, r.text
    assert "409" in refused(cloud, "router", "create", unique("r"))
    neutron_error(demo.post("/routers", json={"router": {"name": "x"}}), 409, "OverQuota")
    pub = public(admin)["id"]
    over = demo.post("/floatingips", json={"floatingip": {"floating_network_id": pub}})
    assert "floatingip" in neutron_error(over, 409, "OverQuota")


# openstacksdk warns about its own deprecated internals (InfluxDB).
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_auto_allocated_topology(cloud: Cloud, admin: httpx.Client, demo: httpx.Client) -> None:
    project = cloud.openstack("project", "show", "demo", "-f", "json")["id"]
    checked = osc(cloud, "network", "auto", "allocated", "topology", "create", "--check-resources")
    assert checked == {"dry_run": None}  # the CLI's rendering of a pass, as with Neutron
    dry = demo.get(f"/auto-allocated-topology/{project}", params={"fields": "dry-run"})
    assert dry.json()["auto_allocated_topology"]["id"] == "dry-run=pass"
    pub = public(admin)["id"]
    admin.put(f"/networks/{pub}", json={"network": {"is_default": False}})
    try:
        failing = demo.get(f"/auto-allocated-topology/{project}", params={"fields": "dry-run"})
        assert "No default router:external network" in neutron_error(
            failing, 409, "AutoAllocationFailure"
        )
    finally:
        admin.put(f"/networks/{pub}", json={"network": {"is_default": True}})
    assert public(admin)["is_default"] is True
    made = osc(cloud, "network", "auto", "allocated", "topology", "create")
    try:
        net = osc(cloud, "network", "show", made["id"])
        assert net["name"] == "auto_allocated_network" and net["project_id"] == project
        again = demo.get(f"/auto-allocated-topology/{project}").json()["auto_allocated_topology"]
        assert (again["id"], again["tenant_id"]) == (made["id"], project)
        sdk = cloud.sdk(DEMO)
        assert sdk.network.get_auto_allocated_topology(project).id == made["id"]
        [r] = [x for x in osc(cloud, "router", "list") if x["Name"] == "auto_allocated_router"]
        shown = osc(cloud, "router", "show", r["ID"])
        assert shown["external_gateway_info"]["network_id"] == public(admin)["id"]
        assert [p["ID"] for p in osc(cloud, "port", "list", "--router", r["ID"])]
        cloud.cli("network", "auto", "allocated", "topology", "delete", cloud=DEMO)
        neutron_error(demo.get(f"/networks/{made['id']}"), 404, "NetworkNotFound")
        # two at once: one topology
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            got = list(
                pool.map(lambda _: demo.get(f"/auto-allocated-topology/{project}"), range(4))
            )
        ids = {g.json()["auto_allocated_topology"]["id"] for g in got}
        assert len(ids) == 1, [g.text for g in got]
        named = demo.get("/networks", params={"name": "auto_allocated_network"}).json()["networks"]
        assert [n["id"] for n in named] == list(ids)
    finally:
        demo.delete(f"/auto-allocated-topology/{project}")
    neutron_error(demo.delete(f"/auto-allocated-topology/{project}"), 404, "TopologyNotFound")


def test_router_interface_on_slaac_subnet_carries_its_ra_mode(
    cloud: Cloud, cleanup: Cleanup
) -> None:
    """A router's leg holds the gateway of an automatic-address IPv6 subnet (other ports
    may not pick an address there) and the data plane learns what to advertise."""
    net = osc(cloud, "network", "create", unique("net6"))
    cleanup.add(lambda: cloud.cli("network", "delete", net["id"], cloud=DEMO, check=False))
    sub = osc(cloud, "subnet", "create", unique("sub6"), "--network", net["id"], "--ip-version",
              "6", "--subnet-range", "fd00:4b::/64", "--ipv6-ra-mode", "slaac",
              "--ipv6-address-mode", "slaac")  # fmt: skip
    r = router(cloud, cleanup)
    connect(cloud, cleanup, r, sub)
    [leg] = l3_of(cloud, r["id"]).interfaces
    assert (leg.ip_address, leg.ipv6_ra_mode) == ("fd00:4b::1", "slaac")
    taken = refused(cloud, "port", "create", unique("p6"), "--network", net["id"],
                    "--fixed-ip", f"subnet={sub['id']},ip-address=fd00:4b::9")  # fmt: skip
    assert "400" in taken and "automatic addresses" in taken

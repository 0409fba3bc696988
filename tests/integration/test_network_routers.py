"""Routers in the network agent's data plane, end to end: a real ``stratus up`` whose
external network ``public`` is flat on physnet1, carried by ``phys0`` to an "outside"
namespace holding the external subnet's gateway address; guests are namespaces with a
veth named like their port's tap; routers, floating IPs and port forwardings are made
with openstacksdk. No VM, nothing on the machine's own interfaces."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netcloud
import pytest
from netcloud import HOST_A, Env
from netguests import Guest, in_ns, sh, wait_for

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or not Path("/usr/sbin/dnsmasq").exists(),
        reason="needs root, dnsmasq, nftables and busybox-static (scripts/system-deps.sh)",
    ),
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
]

OUTSIDE = "172.24.4.1"  # the external subnet's gateway: the outside namespace holds it
WHO_PORT = 8000
GUEST_PORT = 8080

# answers every GET with the address the request came from
PEER_SERVER = textwrap.dedent(
    """\
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = self.client_address[0].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
    """
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    extra = {
        "STRATUS_NETWORK__PUBLIC_PHYSICAL_NETWORK": "physnet1",
        "STRATUS_NETWORK__PUBLIC_CIDR": "172.24.4.0/24",
    }
    with netcloud.dataplane_cloud(tmp_path_factory.mktemp("routers"), extra) as found:
        in_ns(found.ns_x, "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
        script = found.lab.root / "peer_server.py"
        script.write_text(PEER_SERVER)
        found.lab.start(sys.executable, str(script), "0.0.0.0", str(WHO_PORT), ns=found.ns_x)
        yield found


@dataclass
class Routed:
    router: Any
    net: Any
    subnet: Any
    group: Any  # the security group of the guests: ICMP in, nothing else yet


def _public(env: Env) -> Any:
    return env.admin.network.find_network("public")


def _routed(env: Env, name: str, cidr: str) -> Routed:
    conn = env.demo.network
    net = conn.create_network(name=name)
    subnet = conn.create_subnet(network_id=net.id, cidr=cidr, ip_version=4, name=name)
    router = conn.create_router(name=name, external_gateway_info={"network_id": _public(env).id})
    conn.add_interface_to_router(router, subnet_id=subnet.id)
    group = conn.create_security_group(name=name)
    conn.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                    ethertype="IPv4", protocol="icmp")  # fmt: skip
    return Routed(router, net, subnet, group)


def _legs_active(env: Env, router_id: str) -> bool:
    ports = list(env.admin.network.ports(device_id=router_id))
    return bool(ports) and all(p.status == "ACTIVE" for p in ports)


def _guest(env: Env, routed: Routed, name: str) -> tuple[Guest, str]:
    port = env.demo.network.create_port(
        network_id=routed.net.id, security_group_ids=[routed.group.id]
    )
    env.admin.network.update_port(port.id, binding_host_id=HOST_A)
    guest = env.lab.guest(name, env.ns_a, {"id": port.id, "mac_address": port.mac_address})
    wait_for("port ACTIVE", lambda: env.admin.network.get_port(port.id).status == "ACTIVE")
    wait_for("router legs ACTIVE", lambda: _legs_active(env, routed.router.id))
    ip = port.fixed_ips[0]["ip_address"]
    assert guest.dhcp(env.lab.script)["ip"] == ip
    return guest, ip


def _outside(env: Env) -> Guest:
    return Guest(env.ns_x, "", "", env.lab.root / "unused")


def _seen_as(guest: Guest) -> str:
    """The source address the outside namespace sees for the guest's requests."""
    status, body = guest.http(f"http://{OUTSIDE}:{WHO_PORT}/")
    return body.strip() if status == 200 else ""


def _gateway_ip(env: Env, router_id: str) -> str:
    router = env.demo.network.get_router(router_id)
    return str(router.external_gateway_info["external_fixed_ips"][0]["ip_address"])


def _serve(env: Env, guest: Guest) -> None:
    env.lab.start(sys.executable, "-m", "http.server", str(GUEST_PORT), ns=guest.ns)
    wait_for("the guest's server", lambda: guest.http(f"http://127.0.0.1:{GUEST_PORT}/")[0] == 200)


@pytest.fixture(scope="module")
def routed(env: Env) -> Routed:
    return _routed(env, "rt-lan", "10.90.0.0/24")


def test_router_is_placed_on_the_host_with_the_external_uplink(env: Env, routed: Routed) -> None:
    """Host B is l3-capable too but has no ``phys0``: only host A can reach ``public``."""
    wait_for("router legs ACTIVE", lambda: _legs_active(env, routed.router.id))
    hosts = {p.binding_host_id for p in env.admin.network.ports(device_id=routed.router.id)}
    assert hosts == {HOST_A}
    ns = f"stq-router-{routed.router.id}-{env.ns_a}"
    assert ns in sh("ip", "netns", "list").stdout
    assert in_ns(ns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    assert f"default via {OUTSIDE}" in in_ns(ns, "ip", "route").stdout


def test_static_routes_follow_the_router(env: Env, routed: Routed) -> None:
    ns = f"stq-router-{routed.router.id}-{env.ns_a}"
    route = {"destination": "10.95.0.0/24", "nexthop": "10.90.0.50"}
    env.demo.network.update_router(routed.router, routes=[route])

    def table() -> str:
        return in_ns(ns, "ip", "route", "show", "10.95.0.0/24").stdout

    wait_for("the static route added", lambda: "via 10.90.0.50" in table())
    env.demo.network.update_router(routed.router, routes=[])
    wait_for("the static route removed", lambda: table().strip() == "")


def test_guest_reaches_outside_through_snat(env: Env, routed: Routed) -> None:
    guest, _ = _guest(env, routed, "s1")
    wait_for("the guest reaching outside", lambda: guest.ping(OUTSIDE))
    assert _seen_as(guest) == _gateway_ip(env, routed.router.id)


def test_floating_ip_reaches_guest_until_disassociated(env: Env, routed: Routed) -> None:
    guest, _ = _guest(env, routed, "f1")
    _serve(env, guest)
    fip = env.demo.network.create_ip(floating_network_id=_public(env).id)
    address = fip.floating_ip_address
    outside = _outside(env)
    env.demo.network.update_ip(fip, port_id=guest.port_id)
    wait_for("the floating IP answering ping", lambda: outside.ping(address))
    assert env.demo.network.get_ip(fip.id).status == "ACTIVE"
    assert _seen_as(guest) == address  # 1:1 SNAT: the guest goes out as its floating IP
    url = f"http://{address}:{GUEST_PORT}/"
    assert outside.http(url)[0] == 0  # the group does not open the port yet
    env.demo.network.create_security_group_rule(
        security_group_id=routed.group.id, direction="ingress", ethertype="IPv4",
        protocol="tcp", port_range_min=GUEST_PORT, port_range_max=GUEST_PORT,
        remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    wait_for("the port opened through the floating IP", lambda: outside.http(url)[0] == 200)
    env.demo.network.update_ip(fip, port_id=None)
    wait_for("the floating IP gone", lambda: not outside.ping(address))
    assert outside.http(url)[0] == 0
    assert env.demo.network.get_ip(fip.id).status == "DOWN"
    assert _seen_as(guest) == _gateway_ip(env, routed.router.id)
    assert guest.ping(OUTSIDE)
    env.demo.network.delete_ip(fip)


def test_port_forwarding(env: Env, routed: Routed) -> None:
    guest, fixed = _guest(env, routed, "p1")
    _serve(env, guest)
    env.demo.network.create_security_group_rule(
        security_group_id=routed.group.id, direction="ingress", ethertype="IPv4",
        protocol="tcp", port_range_min=GUEST_PORT, port_range_max=GUEST_PORT,
        remote_ip_prefix=f"{OUTSIDE}/32",
    )  # fmt: skip
    fip = env.demo.network.create_ip(floating_network_id=_public(env).id)
    url = f"http://{fip.floating_ip_address}:2222/"
    outside = _outside(env)
    pf = env.demo.network.create_floating_ip_port_forwarding(
        fip, internal_port_id=guest.port_id, internal_ip_address=fixed,
        internal_port=GUEST_PORT, external_port=2222, protocol="tcp",
    )  # fmt: skip
    wait_for("the forwarded port answering", lambda: outside.http(url)[0] == 200)
    env.demo.network.delete_floating_ip_port_forwarding(fip, pf)
    wait_for("the forwarding removed", lambda: outside.http(url)[0] == 0)
    env.demo.network.delete_ip(fip)


def test_interface_removed_then_router_deleted(env: Env) -> None:
    other = _routed(env, "rt-gone", "10.91.0.0/24")
    guest, _ = _guest(env, other, "r1")
    wait_for("the guest reaching outside", lambda: guest.ping(OUTSIDE))
    ns = f"stq-router-{other.router.id}-{env.ns_a}"
    env.demo.network.remove_interface_from_router(other.router, subnet_id=other.subnet.id)
    wait_for("the guest cut off", lambda: not guest.ping(OUTSIDE))
    assert "qr-" not in in_ns(ns, "ip", "-o", "link", "show").stdout
    env.demo.network.delete_router(other.router)
    wait_for("the router's namespace removed", lambda: ns not in sh("ip", "netns", "list").stdout)


def _ra_processes(env: Env, router_id: str) -> list[str]:
    """Command lines of the dnsmasq advertising for this router (its files carry its id)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode()
            except OSError:
                continue
            if "dnsmasq" in cmd and "--enable-ra" in cmd and router_id in cmd:
                found.append(cmd.replace("\0", " "))
    return found


def _v6_guest(env: Env, name: str, cidr: str, mode: str) -> tuple[Any, Any, Guest, str]:
    """A network with one IPv6 subnet in ``mode`` (RA and address mode alike) on a new
    router with a gateway (so it is placed on host A), and a guest on it: (router,
    subnet, guest, the guest port's address)."""
    conn = env.demo.network
    net = conn.create_network(name=name)
    subnet = conn.create_subnet(network_id=net.id, cidr=cidr, ip_version=6, name=name,
                                ipv6_ra_mode=mode, ipv6_address_mode=mode)  # fmt: skip
    router = conn.create_router(name=name, external_gateway_info={"network_id": _public(env).id})
    conn.add_interface_to_router(router, subnet_id=subnet.id)
    group = conn.create_security_group(name=name)
    port = conn.create_port(network_id=net.id, security_group_ids=[group.id])
    env.admin.network.update_port(port.id, binding_host_id=HOST_A)
    guest = env.lab.guest(name, env.ns_a, {"id": port.id, "mac_address": port.mac_address})
    for key in ("accept_ra", "autoconf"):
        in_ns(guest.ns, "sysctl", "-q", "-w", f"net.ipv6.conf.eth0.{key}=1")
    wait_for("port ACTIVE", lambda: env.admin.network.get_port(port.id).status == "ACTIVE")
    wait_for("router legs ACTIVE", lambda: _legs_active(env, router.id))
    return router, subnet, guest, str(port.fixed_ips[0]["ip_address"])


def test_slaac_guest_gets_its_address_from_router_advertisements(env: Env) -> None:
    """An IPv6 SLAAC subnet on a router: the router's namespace advertises the prefix,
    the guest's kernel builds the EUI-64 address Stratus computed for its port, and the
    guest reaches the router's IPv6 gateway address."""
    conn = env.demo.network
    router, subnet, guest, expected = _v6_guest(env, "v6", "fd00:90:6::/64", "slaac")
    ns = f"stq-router-{router.id}-{env.ns_a}"
    assert in_ns(ns, "sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout.strip() == "1"
    wait_for("the router advertising", lambda: bool(_ra_processes(env, router.id)))
    assert "fd00:90:6::,ra-only,64" in _ra_processes(env, router.id)[0]
    # a fresh link sends a router solicitation, answered at once
    in_ns(guest.ns, "ip", "link", "set", "eth0", "down")
    in_ns(guest.ns, "ip", "link", "set", "eth0", "up")

    def global_addresses() -> str:
        return in_ns(guest.ns, "ip", "-6", "addr", "show", "dev", "eth0", "scope", "global").stdout

    wait_for("the SLAAC address", lambda: f"{expected}/64" in global_addresses())
    assert "default via fe80:" in in_ns(guest.ns, "ip", "-6", "route").stdout
    wait_for("the guest reaching its gateway", lambda: guest.ping(str(subnet.gateway_ip)))
    conn.remove_interface_from_router(router, subnet_id=subnet.id)
    wait_for("the advertiser stopped", lambda: not _ra_processes(env, router.id))
    conn.add_interface_to_router(router, subnet_id=subnet.id)
    wait_for("the advertiser back", lambda: bool(_ra_processes(env, router.id)))
    conn.remove_interface_from_router(router, subnet_id=subnet.id)
    conn.delete_router(router)
    wait_for("the router's namespace removed", lambda: ns not in sh("ip", "netns", "list").stdout)
    assert not _ra_processes(env, router.id)


# sends router solicitations from eth0 and prints the first advertisement's flags as JSON
RA_READER = textwrap.dedent(
    """\
    import ipaddress, json, socket, time
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    s.settimeout(1)
    index = socket.if_nametoindex("eth0")
    for _ in range(30):
        try:  # fails while the link-local address is still tentative
            s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, index))
            data = s.recv(4096)
        except OSError:  # TimeoutError included
            time.sleep(0.5)
            continue
        if data[0] != 134:
            continue
        found = {"managed": bool(data[5] & 0x80), "other": bool(data[5] & 0x40),
                 "prefixes": {}}
        rest = data[16:]
        while len(rest) >= 8 and rest[1]:
            if rest[0] == 3:
                prefix = f"{ipaddress.IPv6Address(rest[16:32])}/{rest[2]}"
                found["prefixes"][prefix] = {"on_link": bool(rest[3] & 0x80),
                                             "autonomous": bool(rest[3] & 0x40)}
            rest = rest[rest[1] * 8:]
        print(json.dumps(found))
        break
    """
)


@pytest.mark.parametrize(
    ("mode", "managed", "other", "autonomous"),
    [
        ("slaac", False, False, True),
        ("dhcpv6-stateless", False, True, True),
        # dnsmasq sets O beside M; RFC 4861 calls O redundant when M is set
        ("dhcpv6-stateful", True, True, False),
    ],
)
def test_router_advertisement_flags_follow_the_ra_mode(
    env: Env, mode: str, managed: bool, other: bool, autonomous: bool
) -> None:
    """What the router's advertisements say, read off the wire in the guest."""
    third = {"slaac": 1, "dhcpv6-stateless": 2, "dhcpv6-stateful": 3}[mode]
    cidr = f"fd00:91:{third}::/64"
    router, subnet, guest, _ = _v6_guest(env, f"ra{third}", cidr, mode)
    wait_for("the router advertising", lambda: bool(_ra_processes(env, router.id)))
    got = in_ns(guest.ns, sys.executable, "-c", RA_READER, timeout=90).stdout
    assert got, "no router advertisement came"
    ra = json.loads(got)
    assert (ra["managed"], ra["other"]) == (managed, other)
    assert ra["prefixes"] == {cidr: {"on_link": True, "autonomous": autonomous}}
    env.demo.network.remove_interface_from_router(router, subnet_id=subnet.id)
    env.demo.network.delete_router(router)
    wait_for("the advertiser stopped", lambda: not _ra_processes(env, router.id))

"""The network agent's data plane, end to end: a real ``stratus up`` whose network agent
(and one simulated second host) live in namespaces this test made, guests that are
namespaces with a veth named like their port's tap, busybox udhcpc and ping in them,
ports made with openstacksdk. No VM, nothing on the machine's own interfaces."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netcloud
import pytest
from netcloud import Env
from netguests import Guest, in_ns, sh, wait_for

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or not Path("/usr/sbin/dnsmasq").exists(),
        reason="needs root, dnsmasq, nftables and busybox-static (scripts/system-deps.sh)",
    ),
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
]

SECRET = netcloud.SECRET
HOST_A, HOST_B = netcloud.HOST_A, netcloud.HOST_B
UNDERLAY_B = netcloud.UNDERLAY_B


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with netcloud.dataplane_cloud(tmp_path_factory.mktemp("dataplane")) as found:
        yield found


def _network(conn: Any, name: str, cidr: str) -> Any:
    net = conn.network.create_network(name=name)
    conn.network.create_subnet(network_id=net.id, cidr=cidr, ip_version=4, name=name)
    return net


def _port(env: Env, conn: Any, net: Any, host: str, **attrs: Any) -> dict[str, str]:
    port = conn.network.create_port(network_id=net.id, **attrs)
    env.admin.network.update_port(port.id, binding_host_id=host)
    return {"id": port.id, "mac_address": port.mac_address, "ip": port.fixed_ips[0]["ip_address"]}


def _active(env: Env, port_id: str) -> bool:
    return bool(env.admin.network.get_port(port_id).status == "ACTIVE")


@pytest.fixture(scope="module")
def demo_net(env: Env) -> Any:
    return _network(env.demo, "dp-demo", "10.77.0.0/24")


@pytest.fixture(scope="module")
def pair(env: Env, demo_net: Any) -> tuple[Guest, Guest, dict[str, str], dict[str, str]]:
    p1 = _port(env, env.demo, demo_net, HOST_A, device_id="instance-one", name="one")
    p2 = _port(env, env.demo, demo_net, HOST_A, name="two")
    g1 = env.lab.guest("g1", env.ns_a, p1)
    g2 = env.lab.guest("g2", env.ns_a, p2)
    return g1, g2, p1, p2


def test_two_guests_get_their_address_by_dhcp_and_ping(env: Env, pair: Any) -> None:
    g1, g2, p1, p2 = pair
    wait_for("ports ACTIVE", lambda: _active(env, p1["id"]) and _active(env, p2["id"]))
    assert g1.dhcp(env.lab.script)["ip"] == p1["ip"]
    assert g2.dhcp(env.lab.script)["ip"] == p2["ip"]
    wait_for("g1 reaches g2", lambda: g1.ping(p2["ip"]))
    assert g2.ping(p1["ip"])


def test_spoofed_source_is_dropped(env: Env, demo_net: Any, pair: Any) -> None:
    g1, g2, _p1, p2 = pair
    g1.dhcp(env.lab.script)
    g2.dhcp(env.lab.script)
    wait_for("g1 reaches g2", lambda: g1.ping(p2["ip"]))
    # the address of another port of the same group: its rules would let it in
    decoy = env.demo.network.create_port(network_id=demo_net.id).fixed_ips[0]["ip_address"]
    in_ns(g1.ns, "ip", "addr", "add", f"{decoy}/24", "dev", "eth0")
    # g2 knows the spoofed address's MAC already: only the IP filter can stop the ping
    in_ns(g2.ns, "ip", "neigh", "replace", decoy, "lladdr", g1.mac, "dev", "eth0",
          "nud", "permanent")  # fmt: skip
    try:
        assert not g1.ping(p2["ip"], source=decoy, count=2)
        assert g1.ping(p2["ip"])
    finally:
        in_ns(g1.ns, "ip", "addr", "del", f"{decoy}/24", "dev", "eth0", check=False)


def test_other_projects_network_is_unreachable(env: Env, pair: Any) -> None:
    g1, _, p1, _ = pair
    other = _network(env.admin, "dp-admin", "10.78.0.0/24")
    p3 = _port(env, env.admin, other, HOST_A)
    g3 = env.lab.guest("g3", env.ns_a, p3)
    wait_for("port ACTIVE", lambda: _active(env, p3["id"]))
    assert g3.dhcp(env.lab.script)["ip"] == p3["ip"]
    in_ns(g3.ns, "ip", "route", "replace", "10.77.0.0/24", "dev", "eth0")
    in_ns(g1.ns, "ip", "route", "replace", "10.78.0.0/24", "dev", "eth0")
    assert not g3.ping(p1["ip"], count=2)
    assert not g1.ping(p3["ip"], count=2)


def test_security_group_rule_opens_and_closes_tcp(env: Env, demo_net: Any, pair: Any) -> None:
    g1, _, _, _ = pair
    g1.dhcp(env.lab.script)
    blank = env.demo.network.create_security_group(name="dp-blank")
    p4 = _port(env, env.demo, demo_net, HOST_A, security_group_ids=[blank.id])
    g4 = env.lab.guest("g4", env.ns_a, p4)
    wait_for("port ACTIVE", lambda: _active(env, p4["id"]))
    g4.dhcp(env.lab.script)
    env.lab.start(sys.executable, "-m", "http.server", "8080", "--bind", p4["ip"], ns=g4.ns)
    url = f"http://{p4['ip']}:8080/"
    wait_for("the server listening", lambda: g4.http(url)[0] == 200)
    assert g1.http(url)[0] == 0
    rule = env.demo.network.create_security_group_rule(
        security_group_id=blank.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=8080, port_range_max=8080, remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    wait_for("the rule applied", lambda: g1.http(url)[0] == 200)
    env.demo.network.delete_security_group_rule(rule.id)
    wait_for("the rule removed", lambda: g1.http(url)[0] == 0)


def test_metadata_proxy_signs_and_refuses_unknown(env: Env, pair: Any) -> None:
    g1, g2, p1, p2 = pair
    lease = g1.dhcp(env.lab.script)
    assert "169.254.169.254/32" in lease["routes"]
    g2.dhcp(env.lab.script)
    status, body = g1.http("http://169.254.169.254/openstack/latest/meta_data.json")
    assert status == 200, body
    assert "stand-in" in body
    seen = json.loads(env.md_requests.read_text().splitlines()[-1])
    assert seen["X-Instance-ID"] == "instance-one"
    assert seen["X-Forwarded-For"] == p1["ip"]
    assert seen["X-Tenant-ID"] == env.demo.current_project_id
    want = hmac.new(SECRET.encode(), b"instance-one", hashlib.sha256).hexdigest()
    assert seen["X-Instance-ID-Signature"] == want
    assert g2.http("http://169.254.169.254/openstack/latest/meta_data.json")[0] == 404
    # once g2's port belongs to an instance, g2 is that instance and no other
    env.demo.network.update_port(p2["id"], device_id="instance-two")
    wait_for("g2 known to the proxy", lambda: g2.http("http://169.254.169.254/")[0] == 200)
    seen = json.loads(env.md_requests.read_text().splitlines()[-1])
    assert (seen["X-Instance-ID"], seen["X-Forwarded-For"]) == ("instance-two", p2["ip"])


def test_vxlan_between_two_hosts(env: Env, demo_net: Any, pair: Any) -> None:
    g1, _, p1, _ = pair
    g1.dhcp(env.lab.script)
    p5 = _port(env, env.demo, demo_net, HOST_B)
    g5 = env.lab.guest("g5", env.ns_b, p5)
    wait_for("port ACTIVE", lambda: _active(env, p5["id"]))
    assert g5.dhcp(env.lab.script)["ip"] == p5["ip"]
    wait_for("g5 on host B reaches g1 on host A", lambda: g5.ping(p1["ip"]))
    fdb = in_ns(env.ns_a, "bridge", "fdb", "show").stdout
    assert f"dst {UNDERLAY_B}" in fdb


def test_deleting_a_network_removes_its_bridge_dnsmasq_and_namespace(env: Env) -> None:
    net = _network(env.demo, "dp-gone", "10.79.0.0/24")
    port = _port(env, env.demo, net, HOST_A)
    bridge = "stqb" + net.id.replace("-", "")[:11]
    dhcp_ns = f"stq-dhcp-{net.id}-{env.ns_a}"

    def built() -> bool:
        links = in_ns(env.ns_a, "ip", "-o", "link", "show").stdout
        return bridge in links and dhcp_ns in sh("ip", "netns", "list").stdout

    wait_for("the network built", built)
    pid_file = env.cloud.state_dir / "network-agent" / HOST_A / "dhcp" / net.id / "pid"
    wait_for("dnsmasq running", pid_file.exists)
    pid = int(pid_file.read_text())
    env.demo.network.delete_port(port["id"])
    env.demo.network.delete_network(net.id)
    wait_for("the bridge removed", lambda: bridge not in in_ns(
        env.ns_a, "ip", "-o", "link", "show").stdout)  # fmt: skip
    wait_for("the namespace removed", lambda: dhcp_ns not in sh("ip", "netns", "list").stdout)
    wait_for("dnsmasq stopped", lambda: not Path(f"/proc/{pid}").exists())


def test_a_subnet_added_later_is_served(env: Env) -> None:
    net = _network(env.demo, "dp-later", "10.80.0.0/24")
    _port(env, env.demo, net, HOST_A)
    pid_file = env.cloud.state_dir / "network-agent" / HOST_A / "dhcp" / net.id / "pid"
    wait_for("dnsmasq serving the first subnet", pid_file.exists)
    later = env.demo.network.create_subnet(network_id=net.id, cidr="10.81.0.0/24", ip_version=4)
    p = _port(env, env.demo, net, HOST_A, fixed_ips=[{"subnet_id": later.id}])
    guest = env.lab.guest("g6", env.ns_a, p)
    wait_for("port ACTIVE", lambda: _active(env, p["id"]))
    assert guest.dhcp(env.lab.script)["ip"] == p["ip"]
    dhcp_ips = [f["ip_address"] for q in env.admin.network.ports(network_id=net.id,
                device_owner="network:dhcp") for f in q.fixed_ips]  # fmt: skip
    assert any(ip.startswith("10.81.0.") for ip in dhcp_ips)


def test_port_goes_down_when_its_tap_goes(env: Env, demo_net: Any) -> None:
    p = _port(env, env.demo, demo_net, HOST_A)
    env.lab.guest("g7", env.ns_a, p)
    wait_for("port ACTIVE", lambda: _active(env, p["id"]))
    in_ns(env.ns_a, "ip", "link", "del", "tap" + p["id"][:11])
    wait_for("port DOWN", lambda: env.admin.network.get_port(p["id"]).status == "DOWN")


def test_flat_network_reaches_the_physical_network(env: Env) -> None:
    """(VLAN networks use an 8021q sub-interface the same way; this kernel has no 8021q.)"""
    in_ns(env.ns_x, "ip", "addr", "add", "10.83.0.250/24", "dev", "eth0")
    net = env.admin.network.create_network(
        name="dp-flat", provider_network_type="flat", provider_physical_network="physnet1"
    )
    env.admin.network.create_subnet(network_id=net.id, cidr="10.83.0.0/24", ip_version=4,
                                    allocation_pools=[{"start": "10.83.0.10",
                                                       "end": "10.83.0.100"}])  # fmt: skip
    p = _port(env, env.admin, net, HOST_A)
    guest = env.lab.guest("p0", env.ns_a, p)
    wait_for("port ACTIVE", lambda: _active(env, p["id"]))
    assert guest.dhcp(env.lab.script)["ip"] == p["ip"]
    wait_for("the flat guest reaching physnet1", lambda: guest.ping("10.83.0.250"))


def test_dual_stack_network_serves_dhcp_and_filters_ipv6(env: Env) -> None:
    net = _network(env.demo, "dp-dual", "10.85.0.0/24")
    env.demo.network.create_subnet(network_id=net.id, cidr="fd85::/64", ip_version=6,
                                   ipv6_address_mode="dhcpv6-stateful")  # fmt: skip
    guests, v6 = [], []
    for name in ("d1", "d2"):
        port = env.demo.network.create_port(network_id=net.id)
        env.admin.network.update_port(port.id, binding_host_id=HOST_A)
        ips = {f["ip_address"] for f in port.fixed_ips}
        p = {"id": port.id, "mac_address": port.mac_address}
        guests.append(env.lab.guest(name, env.ns_a, p))
        v4 = next(ip for ip in ips if "." in ip)
        v6.append(next(ip for ip in ips if ":" in ip))
        wait_for("port ACTIVE", lambda p=p: _active(env, p["id"]))
        assert guests[-1].dhcp(env.lab.script)["ip"] == v4
    for guest, address in zip(guests, v6, strict=True):
        in_ns(guest.ns, "ip", "-6", "addr", "add", f"{address}/64", "dev", "eth0", "nodad")
    d1, d2 = guests
    wait_for("d1 reaches d2 over IPv6", lambda: d1.ping(v6[1]))
    # an IPv6 source that is not the port's is dropped
    in_ns(d1.ns, "ip", "-6", "addr", "add", "fd85::dead/64", "dev", "eth0", "nodad")
    in_ns(d2.ns, "ip", "-6", "neigh", "replace", "fd85::dead", "lladdr", d1.mac, "dev",
          "eth0", "nud", "permanent")  # fmt: skip
    assert not d1.ping(v6[1], source="fd85::dead", count=2)

"""Pure pieces of the network agent: names, nft rule text, dnsmasq files."""

from __future__ import annotations

from pathlib import Path

from stratus.network import rpc
from stratus.network.agent import dhcp, firewall, names, sg_rules

NET_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
PORT_ID = "11112222-3333-4444-5555-666677778888"


def _port(**attrs: object) -> rpc.Port:
    base: dict[str, object] = {
        "id": PORT_ID, "network_id": NET_ID, "project_id": "p", "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [rpc.FixedIp(subnet_id="s1", ip_address="10.0.0.5")],
    }  # fmt: skip
    return rpc.Port.model_validate(base | attrs)


def test_names_fit_linux_and_carry_prefixes() -> None:
    for made in (names.bridge(NET_ID), names.vxlan(NET_ID), names.vlan(NET_ID),
                 names.dhcp_veth(NET_ID), names.tap(PORT_ID)):  # fmt: skip
        assert len(made) <= 15
    assert names.tap(PORT_ID) == "tap11112222-33"
    assert names.owned(names.bridge(NET_ID)) and not names.owned("eth0")
    ns = names.dhcp_namespace(NET_ID, "hostb")
    assert names.network_of_namespace(ns, "hostb") == NET_ID
    assert names.network_of_namespace(ns, "") is None


def test_rules_render_ports_remote_groups_and_icmp() -> None:
    tcp = rpc.Rule(direction="ingress", ethertype="IPv4", protocol="tcp", port_range_min=22,
                   port_range_max=22, remote_ip_prefix="192.0.2.0/24")  # fmt: skip
    assert sg_rules.render(tcp) == (
        "meta nfproto ipv4 ip saddr 192.0.2.0/24 meta l4proto tcp th dport 22 accept"
    )
    group = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    udp = rpc.Rule(direction="egress", ethertype="IPv6", protocol="17", port_range_min=1000,
                   port_range_max=2000, remote_group_id=group)  # fmt: skip
    assert sg_rules.render(udp) == (
        f"meta nfproto ipv6 ip6 daddr @{sg_rules.group_set(group, 6)} "
        "meta l4proto udp th dport 1000-2000 meta mark set meta mark | 0x8000 return"
    )
    icmp = rpc.Rule(direction="ingress", ethertype="IPv4", protocol="icmp", port_range_min=8,
                    remote_ip_prefix="0.0.0.0/0")  # fmt: skip
    assert sg_rules.render(icmp) == "meta nfproto ipv4 meta l4proto icmp icmp type 8 accept"


def test_spoof_rules_allow_the_port_and_its_pairs_only() -> None:
    port = _port(allowed_address_pairs=[
        rpc.AddressPair(ip_address="10.0.9.0/24", mac_address="fa:16:3e:00:00:02")])  # fmt: skip
    rules = "\n".join(firewall.spoof_rules(port, 7))
    assert "ether saddr != { fa:16:3e:00:00:01, fa:16:3e:00:00:02 } drop" in rules
    assert "ip saddr != { 10.0.0.5/32, 10.0.9.0/24 } drop" in rules
    assert "udp sport 67 drop" in rules
    assert rules.endswith("meta mark set 0x7")
    chains = firewall.port_chains(_port(security_groups=["g1"]), 7)
    ingress = chains[("inet", "i_11112222-33")]
    assert f"jump {sg_rules.group_chain('g1', 'ingress')}" in ingress
    assert ingress[-1] == "drop"


def test_dnsmasq_files_hold_static_hosts_and_metadata_route() -> None:
    subnet = rpc.Subnet(id="s1", cidr="10.0.0.0/24", ip_version=4, gateway_ip="10.0.0.1")
    net = rpc.Network(id=NET_ID, project_id="p", network_type="vxlan", mtu=1450,
                      subnets=[subnet])  # fmt: skip
    server = _port(id="dhcp", device_owner=rpc.DHCP_OWNER,
                   fixed_ips=[rpc.FixedIp(subnet_id="s1", ip_address="10.0.0.2")])  # fmt: skip
    hosts, addn = dhcp.host_lines(net, [_port(name="web-1"), server])
    assert hosts == "fa:16:3e:00:00:01,10.0.0.5,web-1\n"
    assert addn == "10.0.0.5 web-1\n"
    opts = dhcp.opts_lines(net, server)
    assert "option:classless-static-route,169.254.169.254/32,10.0.0.2,0.0.0.0/0,10.0.0.1" in opts
    assert "option:router,10.0.0.1" in opts
    argv = dhcp.command(net, dhcp.DhcpFiles(Path("/x")))
    assert f"--dhcp-range=set:subnet-s1,10.0.0.0,static,255.255.255.0,{dhcp.LEASE_SECONDS}s" in argv


def test_protocols_become_numbers_and_unknown_ones_are_left_out() -> None:
    gre = rpc.Rule(direction="ingress", ethertype="IPv4", protocol="gre")
    assert sg_rules.render(gre) == "meta nfproto ipv4 meta l4proto 47 accept"
    bogus = rpc.Rule(direction="ingress", ethertype="IPv4", protocol="no-such-proto")
    chains = firewall.group_chains({"g"}, {"g": [bogus, gre]})
    assert chains[("inet", sg_rules.group_chain("g", "ingress"))] == (sg_rules.render(gre),)

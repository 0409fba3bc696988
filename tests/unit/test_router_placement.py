"""Router placement (l3_placement) and router NAT rendering (router_nat): pure logic."""

from __future__ import annotations

from stratus.network import models as m
from stratus.network import rpc
from stratus.network.agent import router_nat, routers
from stratus.network.l3_placement import L3Agents, choose


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _flat(physnet: str) -> m.Network:
    return m.Network(id="ext", network_type="flat", physical_network=physnet)


def test_only_agents_with_the_external_uplink_can_host() -> None:
    agents = L3Agents(down_time=60, clock=Clock())
    agents.learn("a", True, ["physnet1"], vxlan=True)
    agents.learn("b", True, [], vxlan=True)
    agents.learn("c", False, ["physnet1"], vxlan=True)
    assert [h for h in ("a", "b", "c") if agents.can_host(h, _flat("physnet1"))] == ["a"]
    assert [h for h in ("a", "b", "c") if agents.can_host(h, None)] == ["a", "b"]


def test_a_silent_agent_is_gone_after_down_time() -> None:
    clock = Clock()
    agents = L3Agents(down_time=60, clock=clock)
    agents.learn("a", True, ["physnet1"], vxlan=False)
    clock.now += 59
    assert agents.can_host("a", None)
    clock.now += 2
    assert not agents.can_host("a", None)


def test_a_host_bound_before_start_is_presumed_alive_for_a_while() -> None:
    clock = Clock()
    agents = L3Agents(down_time=60, clock=clock)
    assert agents.can_host("earlier", _flat("physnet1"))
    clock.now += 61
    assert not agents.can_host("earlier", _flat("physnet1"))


def test_choice_is_stable_sticky_and_spreads() -> None:
    hosts = ["h1", "h2", "h3"]
    picks = {choose(f"router-{i}", "", hosts) for i in range(30)}
    assert picks == set(hosts)  # thirty routers use every host
    first = choose("router-x", "", hosts)
    assert choose("router-x", "", list(reversed(hosts))) == first
    assert choose("router-x", "h2", hosts) == "h2"  # stays while its host can keep it
    assert choose("router-x", "gone", hosts) == first
    assert choose("router-x", "", []) == ""


def _router(**kw: object) -> rpc.RouterL3:
    gw = rpc.Gateway(network_id="ext", port_id="0123456789abcdef", mac_address="fa:16:3e:0:0:1",
                     ip_address="172.24.4.10", cidr="172.24.4.10/24", gateway_ip="172.24.4.1",
                     enable_snat=True, mtu=1500)  # fmt: skip
    lan = rpc.Interface(port_id="p-lan", mac_address="fa:16:3e:0:0:2", network_id="lan",
                        subnet_id="s", subnet_cidr="10.0.0.0/24", ip_address="10.0.0.1",
                        mtu=1450)  # fmt: skip
    base: dict[str, object] = {"id": "r", "project_id": "p", "admin_state_up": True,
                               "gateway": gw, "interfaces": [lan], "routes": [],
                               "floating_ips": [], "port_forwardings": []}  # fmt: skip
    return rpc.RouterL3.model_validate(base | kw)


def test_nat_snat_floating_ip_and_forwarding() -> None:
    fip = rpc.FloatingIpMapping(id="f", floating_ip_address="172.24.4.20",
                                fixed_ip_address="10.0.0.5", fixed_port_id="x")  # fmt: skip
    pf = rpc.PortForwardingRule(id="pf", floating_ip_address="172.24.4.21", protocol="tcp",
                                external_port=2222, internal_ip_address="10.0.0.6",
                                internal_port=22)  # fmt: skip
    text = router_nat.ruleset(_router(floating_ips=[fip], port_forwardings=[pf]))
    assert text.startswith("add table ip stratus\ndelete table ip stratus\n")
    assert 'oifname "qg-0123456789a" ip saddr { 10.0.0.0/24 } snat to 172.24.4.10' in text
    assert "ip daddr 172.24.4.20 dnat to 10.0.0.5" in text
    assert 'oifname "qg-0123456789a" ip saddr 10.0.0.5 snat to 172.24.4.20' in text
    assert "ip daddr 172.24.4.21 tcp dport 2222 dnat to 10.0.0.6:22" in text
    gw_leg = next(leg for leg in routers.legs(_router(floating_ips=[fip], port_forwardings=[pf]))
                  if leg.gateway)  # fmt: skip
    assert gw_leg.cidrs == ("172.24.4.10/24", "172.24.4.20/32", "172.24.4.21/32")


def test_no_snat_when_disabled_and_no_table_without_gateway() -> None:
    gw = _router().gateway
    assert gw is not None
    off = router_nat.ruleset(_router(gateway=gw.model_copy(update={"enable_snat": False})))
    assert "snat" not in off
    assert router_nat.ruleset(_router(gateway=None)) == (
        "add table ip stratus\ndelete table ip stratus\n"
    )


def test_routes_default_via_external_gateway_plus_static() -> None:
    route = rpc.Route(destination="10.9.0.0/16", nexthop="10.0.0.254")
    assert routers.routes(_router(routes=[route])) == {
        "default": "172.24.4.1",
        "10.9.0.0/16": "10.0.0.254",
    }

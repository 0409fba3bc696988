"""Router advertisements' dnsmasq command line (router_ra): pure logic."""

from __future__ import annotations

from pathlib import Path

from stratus.network import rpc
from stratus.network.agent import router_ra


def _leg(port: str, cidr: str, mode: str | None) -> rpc.Interface:
    return rpc.Interface(port_id=port, mac_address="fa:16:3e:00:00:01", network_id="n",
                         subnet_id="s" + port, subnet_cidr=cidr, ip_address="x", mtu=1450,
                         ipv6_ra_mode=mode)  # fmt: skip


def _router(*legs: rpc.Interface) -> rpc.RouterL3:
    return rpc.RouterL3(id="r", project_id="p", admin_state_up=True, gateway=None,
                        interfaces=list(legs), routes=[], floating_ips=[],
                        port_forwardings=[])  # fmt: skip


FILES = router_ra.RaFiles(Path("/state/routers/r"))


def test_nothing_to_advertise_means_no_process() -> None:
    router = _router(_leg("a" * 11, "10.0.0.0/24", None), _leg("b" * 11, "fd00:1::/64", None))
    assert router_ra.command(router_ra.prefixes(router), FILES) == []


def test_each_mode_gets_its_dnsmasq_words_on_its_leg() -> None:
    router = _router(
        _leg("a" * 11, "fd00:1::/64", "slaac"),
        _leg("b" * 11, "fd00:2::/64", "dhcpv6-stateless"),
        _leg("c" * 11, "fd00:3::/64", "dhcpv6-stateful"),
    )
    argv = router_ra.command(router_ra.prefixes(router), FILES)
    assert "--enable-ra" in argv and "--port=0" in argv
    assert [a for a in argv if a.startswith("--interface=")] == [
        "--interface=qr-aaaaaaaaaaa", "--interface=qr-bbbbbbbbbbb", "--interface=qr-ccccccccccc",
    ]  # fmt: skip
    assert "--ra-param=qr-aaaaaaaaaaa,mtu:1450,30" in argv
    assert "--dhcp-range=fd00:1::,ra-only,64" in argv
    assert "--dhcp-range=fd00:2::,ra-stateless,64" in argv
    managed = [a for a in argv if a.startswith("--dhcp-range=set:")]
    assert len(managed) == 1 and managed[0].endswith(",fd00:3::,static,64")
    tag = managed[0].removeprefix("--dhcp-range=set:").split(",")[0]
    assert f"--dhcp-ignore=tag:{tag}" in argv  # the network's DHCP server hands out addresses
    assert f"--pid-file={FILES.pid}" in argv

"""Address arithmetic of subnets and the MAC rule: pure functions, checked directly."""

from __future__ import annotations

import ipaddress
import re

import pytest

from stratus.common.errors import Conflict, InvalidInput
from stratus.network import macs
from stratus.network.attributes import to_cidr
from stratus.network.pools import check_gateway, default_pools, eui64, parse_pools


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_default_pools_leave_out_network_broadcast_and_gateway() -> None:
    pools = default_pools(net("10.0.0.0/28"), ipaddress.ip_address("10.0.0.5"))
    assert [str(p) for p in pools] == ["10.0.0.1-10.0.0.4", "10.0.0.6-10.0.0.14"]
    assert [str(p) for p in default_pools(net("10.0.0.0/30"), None)] == ["10.0.0.1-10.0.0.2"]
    assert default_pools(net("10.0.0.0/31"), None) == []
    v6 = default_pools(net("fd00::/126"), ipaddress.ip_address("fd00::1"))
    assert [str(p) for p in v6] == ["fd00::2-fd00::3"]  # IPv6 has no broadcast


def test_pools_are_validated_as_neutron_does() -> None:
    cidr = net("10.0.0.0/24")
    gw = ipaddress.ip_address("10.0.0.1")
    ok = parse_pools(
        cidr,
        [{"start": "10.0.0.50", "end": "10.0.0.60"}, {"start": "10.0.0.10", "end": "10.0.0.20"}],
        gw,
    )
    assert [p.as_dict()["start"] for p in ok] == ["10.0.0.10", "10.0.0.50"]
    with pytest.raises(Conflict, match="overlapping allocation pools"):
        parse_pools(
            cidr,
            [
                {"start": "10.0.0.10", "end": "10.0.0.20"},
                {"start": "10.0.0.20", "end": "10.0.0.30"},
            ],
            gw,
        )
    with pytest.raises(Conflict, match="conflicts with allocation pool"):
        parse_pools(cidr, [{"start": "10.0.0.1", "end": "10.0.0.9"}], gw)
    for outside in (
        {"start": "10.0.0.0", "end": "10.0.0.9"},
        {"start": "10.0.0.9", "end": "10.0.0.255"},
        {"start": "10.0.1.1", "end": "10.0.1.9"},
    ):
        with pytest.raises(InvalidInput, match="spans beyond the subnet cidr"):
            parse_pools(cidr, [outside], gw)
    with pytest.raises(InvalidInput, match="is not valid"):
        parse_pools(cidr, [{"start": "10.0.0.9", "end": "10.0.0.2"}], gw)
    with pytest.raises(InvalidInput):
        parse_pools(cidr, [{"start": "10.0.0.9"}], gw)


def test_cidrs_and_gateways() -> None:
    assert str(to_cidr("10.1.0.0/16")) == "10.1.0.0/16"
    with pytest.raises(InvalidInput, match=re.escape("'10.1.0.0/16' is recommended")):
        to_cidr("10.1.2.3/16")
    for bad in ("10.1.0.0", "10.1.0.0/33", "nonsense/8", 42):
        with pytest.raises(InvalidInput):
            to_cidr(bad)
    assert str(check_gateway(net("10.0.0.0/24"), "10.0.0.254")) == "10.0.0.254"
    for bad in ("10.0.0.0", "10.0.0.255", "10.0.1.1", "fd00::1"):
        with pytest.raises(InvalidInput):
            check_gateway(net("10.0.0.0/24"), bad)


def test_eui64_and_macs() -> None:
    assert str(eui64(net("fd00::/64"), "fa:16:3e:12:34:56")) == "fd00::f816:3eff:fe12:3456"
    assert macs.fixed_octets("fa:16:3e:00:00:00") == ["fa", "16", "3e"]
    assert macs.fixed_octets("fa:16:3e:4f:00:00") == ["fa", "16", "3e", "4f"]
    made = {macs.generate("fa:16:3e:4f:00:00") for _ in range(50)}
    assert all(m.startswith("fa:16:3e:4f:") and len(m) == 17 for m in made)
    assert len(made) > 1

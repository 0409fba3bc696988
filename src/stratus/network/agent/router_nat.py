"""A router's NAT as one nftables table, rendered whole and applied in one ``nft -f``
transaction (``add``/``delete``/define: the old table goes and the new one comes at
once), so a change never leaves a moment with half the rules.

In the router's namespace, with its gateway leg ``qg-…`` on the external network:
- port forwardings: DNAT of floating-IP:port arriving on the gateway to internal ip:port;
- floating IPs: 1:1 DNAT of the floating address to the fixed one, and SNAT of what the
  fixed address sends out of the gateway to the floating one (whatever ``enable_snat``);
- ``enable_snat``: SNAT of the router's IPv4 subnets leaving by the gateway to the
  gateway's own address.
Floating addresses are held as /32 addresses on the gateway leg (so the kernel answers
ARP for them); conntrack undoes each translation on the replies.
"""

from __future__ import annotations

import ipaddress

from stratus.network import rpc
from stratus.network.agent import names

TABLE = "stratus"


def ruleset(router: rpc.RouterL3) -> str:
    """The script replacing the router's table (just removing it without a gateway)."""
    lines = [f"add table ip {TABLE}", f"delete table ip {TABLE}"]
    gw = router.gateway
    if gw is not None:
        pre, post = _rules(router, gw)
        lines += [
            f"table ip {TABLE} {{",
            "  chain prerouting {",
            "    type nat hook prerouting priority dstnat; policy accept;",
            *(f"    {r}" for r in pre),
            "  }",
            "  chain postrouting {",
            "    type nat hook postrouting priority srcnat; policy accept;",
            *(f"    {r}" for r in post),
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


def _rules(router: rpc.RouterL3, gw: rpc.Gateway) -> tuple[list[str], list[str]]:
    qg = f'"{names.router_leg(gw.port_id, gateway=True)}"'
    pre, post = [], []
    order = sorted(router.port_forwardings,
                   key=lambda p: (p.floating_ip_address, p.protocol, p.external_port))  # fmt: skip
    for pf in order:
        inside = f"{pf.internal_ip_address}:{pf.internal_port}"
        pre.append(f"iifname {qg} ip daddr {pf.floating_ip_address} {pf.protocol} dport "
                   f"{pf.external_port} dnat to {inside}")  # fmt: skip
    for f in sorted(router.floating_ips, key=lambda f: f.floating_ip_address):
        pre.append(f"ip daddr {f.floating_ip_address} dnat to {f.fixed_ip_address}")
        post.append(f"oifname {qg} ip saddr {f.fixed_ip_address} snat to {f.floating_ip_address}")
    if gw.enable_snat:
        subnets = sorted({i.subnet_cidr for i in router.interfaces if _v4(i.subnet_cidr)})
        if subnets:
            post.append(f"oifname {qg} ip saddr {{ {', '.join(subnets)} }} snat to {gw.ip_address}")
    return pre, post


def _v4(cidr: str) -> bool:
    return ipaddress.ip_network(cidr).version == 4


def floating_addresses(router: rpc.RouterL3) -> list[str]:
    """Every floating address the router answers for: mapped or forwarding."""
    found = {f.floating_ip_address for f in router.floating_ips}
    found |= {p.floating_ip_address for p in router.port_forwardings}
    return sorted(found)

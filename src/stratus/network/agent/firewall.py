"""Security groups and anti-spoofing with nftables, one ``nft -f`` transaction per change.

This kernel family choice: conntrack in the ``bridge`` family needs nf_conntrack_bridge,
which many kernels lack, so the work is split. ``table bridge stratus`` knows the ports
(their taps): it drops spoofed MACs, ARP and IPs, DHCP/RA servers in guests, and marks
each frame with the index of the port it came from (low 16 bits) and goes to (high 16).
br_netfilter then hands bridged IP packets to ``table inet stratus``, which has conntrack:
established/related accept, invalid drop, then the source port's egress chain and the
destination port's ingress chain, chosen by the marks through verdict maps. A port's
chains jump to one chain per group and direction holding that group's rules, so a rule
change rewrites one chain whatever the number of ports, and a membership change only the
chains of the ports concerned. Every chain is compared with what was applied; only the
chains that differ are flushed and refilled, all in one transaction. Ports with port
security off get no chains: nothing marks their frames.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from stratus.network import rpc
from stratus.network.agent import names, sg_rules
from stratus.network.agent.linux import Shell

log = logging.getLogger(__name__)
TABLE = "stratus"

BASE = f"""
add table bridge {TABLE}
delete table bridge {TABLE}
add table inet {TABLE}
delete table inet {TABLE}
table bridge {TABLE} {{
  map spoof {{ type ifname : verdict; }}
  map to_port {{ type ifname : verdict; }}
  chain prerouting {{
    type filter hook prerouting priority -300; policy accept;
    iifname vmap @spoof
  }}
  chain forward {{
    type filter hook forward priority -300; policy accept;
    oifname vmap @to_port
  }}
}}
table inet {TABLE} {{
  map egress {{ type mark : verdict; }}
  map ingress {{ type mark : verdict; }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    meta mark == 0 accept
    ct state established,related accept
    ct state invalid drop
    meta mark & 0x00007fff vmap @egress
    meta mark & 0xffff0000 vmap @ingress
  }}
}}
"""


Chain = tuple[str, str]  # (family, name)


def _addresses(port: rpc.Port) -> tuple[list[str], list[str], list[str]]:
    """(MACs, IPv4, IPv6) the port may send from: its own and its allowed pairs'."""
    macs = {port.mac_address.lower()} | {p.mac_address.lower() for p in port.allowed_address_pairs}
    nets = [ipaddress.ip_network(f.ip_address) for f in port.fixed_ips]
    nets += [ipaddress.ip_network(p.ip_address, strict=False) for p in port.allowed_address_pairs]
    v4 = sorted({str(n) for n in nets if n.version == 4})
    v6 = sorted({str(n) for n in nets if n.version == 6})
    return sorted(macs), v4, v6


def _set(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def spoof_rules(port: rpc.Port, index: int) -> tuple[str, ...]:
    macs, v4, v6 = _addresses(port)
    return (
        f"ether saddr != {_set(macs)} drop",
        f"ether type arp arp saddr ether != {_set(macs)} drop",
        f"ether type arp arp saddr ip != {_set([*v4, '0.0.0.0'])} drop",
        "ether type ip ip protocol udp udp sport 67 drop",
        "ether type ip ip saddr 0.0.0.0 ip protocol udp udp dport 67 meta mark set "
        f"{index:#x} return",
        "ether type ip6 icmpv6 type nd-router-advert drop",
        "ether type ip6 ip6 nexthdr udp udp sport 547 drop",
        f"ether type ip ip saddr != {_set(v4)} drop" if v4 else "ether type ip drop",
        f"ether type ip6 ip6 saddr != {_set([*v6, 'fe80::/10', '::'])} drop",
        "ether type != { ip, ip6, arp } drop",
        f"meta mark set {index:#x}",
    )


def port_chains(port: rpc.Port, index: int) -> dict[Chain, tuple[str, ...]]:
    """A port's four chains: anti-spoofing and marks (bridge), egress and ingress (inet)."""
    key = names.tap(port.id).removeprefix(names.TAP)
    groups = sorted(port.security_groups)
    egress = ("meta l4proto udp udp sport 68 udp dport 67 return",
              "meta l4proto ipv6-icmp icmpv6 type { nd-router-solicit, nd-neighbor-solicit, "
              "nd-neighbor-advert } return",
              *(f"jump {sg_rules.group_chain(g, 'egress')}" for g in groups),
              f"meta mark & {sg_rules.EGRESS_OK:#x} != 0 return", "drop")  # fmt: skip
    ingress = ("meta l4proto udp udp sport 67 udp dport 68 accept",
               "meta l4proto ipv6-icmp icmpv6 type { nd-router-advert, nd-neighbor-solicit, "
               "nd-neighbor-advert } accept",
               *(f"jump {sg_rules.group_chain(g, 'ingress')}" for g in groups), "drop")  # fmt: skip
    return {
        ("bridge", f"s_{key}"): spoof_rules(port, index),
        ("bridge", f"m_{key}"): (f"meta mark set meta mark | {index << 16:#x}",),
        ("inet", f"e_{key}"): egress,
        ("inet", f"i_{key}"): ingress,
    }


def group_chains(
    groups: set[str], rules: dict[str, list[rpc.Rule]]
) -> dict[Chain, tuple[str, ...]]:
    found: dict[Chain, tuple[str, ...]] = {}
    for group in sorted(groups):
        for direction in ("ingress", "egress"):
            found[("inet", sg_rules.group_chain(group, direction))] = tuple(
                _rendered(r for r in rules.get(group, []) if r.direction == direction)
            )
    return found


def _rendered(rules: Iterable[rpc.Rule]) -> Iterator[str]:
    """The rules nft can take; one it cannot (an unknown protocol) is left out, logged,
    rather than failing every port's update."""
    for rule in rules:
        try:
            yield sg_rules.render(rule)
        except ValueError as exc:
            log.warning("security group rule left out: %s", exc)


def elements(port_id: str, index: int) -> tuple[str, ...]:
    """The port's entries in the four verdict maps (``add element`` / ``delete element``)."""
    device = names.tap(port_id)
    key = device.removeprefix(names.TAP)
    return (
        f'bridge {TABLE} spoof {{ "{device}" : jump s_{key} }}',
        f'bridge {TABLE} to_port {{ "{device}" : jump m_{key} }}',
        f"inet {TABLE} egress {{ {index:#x} : jump e_{key} }}",
        f"inet {TABLE} ingress {{ {index << 16:#x} : jump i_{key} }}",
    )


def _element_keys(entry: str) -> str:
    """``delete element`` takes the keys only: drop each ``: verdict``."""
    return entry.split(" : ", maxsplit=1)[0] + " }"


@dataclass
class Firewall:
    """What the tables hold, as last applied: chains, map entries by port, sets."""

    sh: Shell
    chains: dict[Chain, tuple[str, ...]] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)
    sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    started: bool = False

    def _index_of(self, port_id: str, taken: set[int]) -> int:
        found = self.index.get(port_id)
        if found is None:
            found = next(i for i in range(1, 0x7FFF) if i not in taken)
            taken.add(found)
        return found

    def desired(
        self, ports: list[rpc.Port], rules: dict[str, list[rpc.Rule]]
    ) -> tuple[dict[Chain, tuple[str, ...]], dict[str, int]]:
        filtered = [p for p in ports if _filtered(p)]
        taken = set(self.index.values())
        index = {p.id: self._index_of(p.id, taken) for p in filtered}
        chains = group_chains({g for p in filtered for g in p.security_groups}, rules)
        for p in filtered:
            chains |= port_chains(p, index[p.id])
        return chains, index

    async def apply(self, ports: list[rpc.Port], config: rpc.HostConfig) -> int:
        """Bring the tables to the desired state; return how many chains changed."""
        chains, index = self.desired(ports, config.rules)
        if not self.started:
            if not chains:
                return 0  # nothing to filter: leave the host's tables and sysctls alone
            await self.sh.run("sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1",
                              "net.bridge.bridge-nf-call-ip6tables=1")  # fmt: skip
        members = _group_sets(config.group_members)
        script = [] if self.started else [BASE]
        script += _set_changes(self.sets, members)
        script += _chain_changes(self.chains, chains)
        for pid in index.keys() - self.index.keys():
            script += [f"add element {e}" for e in elements(pid, index[pid])]
        for pid in self.index.keys() - index.keys():
            script += [f"delete element {_element_keys(e)}" for e in elements(pid, self.index[pid])]
        # a chain going may still be jumped to from another going one (a port's chain to
        # its group's): nft refuses to delete a chain in use, so all are emptied first
        gone = self.chains.keys() - chains.keys()
        script += [f"flush chain {fam} {TABLE} {name}" for fam, name in gone]
        script += [f"delete chain {fam} {TABLE} {name}" for fam, name in gone]
        script += [f"delete set inet {TABLE} {s}" for s in self.sets if s not in members]
        if script:
            await self.sh.run("nft", "-f", "-", stdin="\n".join(script) + "\n")
        changed = sum(1 for c, r in chains.items() if self.chains.get(c) != r)
        self.started, self.chains, self.index, self.sets = True, chains, index, members
        return changed

    async def reset(self) -> None:
        await self.sh.run("nft", "delete", "table", "bridge", TABLE, check=False)
        await self.sh.run("nft", "delete", "table", "inet", TABLE, check=False)
        self.chains.clear()
        self.index.clear()
        self.sets.clear()
        self.started = False


def _filtered(port: rpc.Port) -> bool:
    return port.port_security_enabled and not port.device_owner.startswith("network:")


def _chain_changes(
    old: dict[Chain, tuple[str, ...]], new: dict[Chain, tuple[str, ...]]
) -> list[str]:
    """New chains are all declared first (a port chain may jump to a new group chain)."""
    script = [f"add chain {fam} {TABLE} {name}" for fam, name in new.keys() - old.keys()]
    for (fam, name), rules in new.items():
        if old.get((fam, name)) == rules:
            continue
        if (fam, name) in old:
            script.append(f"flush chain {fam} {TABLE} {name}")
        script += [f"add rule {fam} {TABLE} {name} {r}" for r in rules]
    return script


def _group_sets(members: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for group, addresses in members.items():
        for version in (4, 6):
            found[sg_rules.group_set(group, version)] = tuple(
                a for a in addresses if ipaddress.ip_address(a).version == version
            )
    return found


def _set_changes(old: dict[str, tuple[str, ...]], new: dict[str, tuple[str, ...]]) -> list[str]:
    script = []
    for name, items in new.items():
        if name in old and old[name] == items:
            continue
        kind = "ipv6_addr" if name.endswith("_6") else "ipv4_addr"
        script.append(f"add set inet {TABLE} {name} {{ type {kind}; flags interval; }}")
        script.append(f"flush set inet {TABLE} {name}")
        if items:
            script.append(f"add element inet {TABLE} {name} {_set(list(items))}")
    return script

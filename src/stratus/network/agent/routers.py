"""Routers on one agent: a namespace per router (``stq-router-<id>[-<agent namespace>]``)
with IP forwarding on and one veth per leg. The leg's agent end is named like a port's
tap, so the agent plugs it into the network's bridge and reports the port ``ACTIVE``
exactly as it does for a guest's tap; the namespace end (``qr-…`` on a subnet, ``qg-…``
on the external network) carries the port's MAC and addresses. Then the default route via
the external subnet's gateway, the router's static routes, its NAT (router_nat.py) and
its IPv6 router advertisements (router_ra.py, a dnsmasq per router whose files live in
``root/<router id>``).
Each sync compares with the kernel's state and changes only what differs; a router no
longer placed here loses its namespace, and with it every leg."""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratus.network import rpc
from stratus.network.agent import linux, names, router_nat, router_ra
from stratus.network.agent.linux import CommandFailed, Shell

log = logging.getLogger(__name__)
LEG_PREFIXES = (names.ROUTER_INTERFACE, names.ROUTER_GATEWAY)


@dataclass(frozen=True)
class Leg:
    port_id: str
    network_id: str
    mac_address: str
    gateway: bool
    cidrs: tuple[str, ...]

    @property
    def device(self) -> str:
        return names.router_leg(self.port_id, self.gateway)


def legs(router: rpc.RouterL3) -> list[Leg]:
    """One leg per port (an interface port may hold addresses on several subnets)."""
    found: dict[str, Leg] = {}
    for i in router.interfaces:
        cidr = f"{i.ip_address}/{ipaddress.ip_network(i.subnet_cidr).prefixlen}"
        old = found.get(i.port_id)
        cidrs = (*old.cidrs, cidr) if old is not None else (cidr,)
        found[i.port_id] = Leg(i.port_id, i.network_id, i.mac_address, False, cidrs)
    gw = router.gateway
    if gw is not None:
        fips = tuple(f"{a}/32" for a in router_nat.floating_addresses(router))
        found[gw.port_id] = Leg(gw.port_id, gw.network_id, gw.mac_address, True,
                                (gw.cidr, *fips))  # fmt: skip
    return list(found.values())


def routes(router: rpc.RouterL3) -> dict[str, str]:
    """Destination -> nexthop: the default route via the external gateway, then the
    router's static routes."""
    found: dict[str, str] = {}
    if router.gateway is not None and router.gateway.gateway_ip:
        found["default"] = router.gateway.gateway_ip
    for r in router.routes:
        found[_destination(r.destination)] = r.nexthop
    return found


def _destination(dst: str) -> str:
    return dst if dst == "default" else str(ipaddress.ip_network(dst, strict=False))


@dataclass
class Routers:
    sh: Shell  # the agent's namespace, where the bridges are
    scope: str  # the agent's namespace name: keeps simulated hosts' routers apart
    root: Path  # per router, the files of its advertiser (router_ra.py)
    nat: dict[str, str] = field(default_factory=dict)  # router id -> ruleset applied

    def namespace(self, router_id: str) -> str:
        return names.router_namespace(router_id, self.scope)

    def ra_files(self, router_id: str) -> router_ra.RaFiles:
        return router_ra.RaFiles(self.root / router_id)

    async def sync(self, config: rpc.HostConfig, links: dict[str, dict[str, Any]]) -> None:
        mtus = {n.id: n.mtu for n in config.networks}
        wanted = {r.id: r for r in config.routers if r.admin_state_up}
        for router in wanted.values():
            try:
                await self._ensure(router, links, mtus)
            except CommandFailed:  # one broken router must not stop the others
                log.exception("router %s: setting up failed", router.id)
                self.nat.pop(router.id, None)
        for ns in await linux.namespaces(names.ROUTER_NS):
            router_id = names.router_of_namespace(ns, self.scope)
            if router_id is not None and router_id not in wanted:
                await self.remove(router_id)

    async def remove(self, router_id: str) -> None:
        """Stop its advertiser and delete the namespace: its veths go with it, their tap
        ends included."""
        await router_ra.remove(self.ra_files(router_id))
        await linux.delete_namespace(self.namespace(router_id))
        self.nat.pop(router_id, None)

    async def purge(self) -> None:
        for ns in await linux.namespaces(names.ROUTER_NS):
            router_id = names.router_of_namespace(ns, self.scope)
            if router_id is not None:
                await self.remove(router_id)
        if self.root.is_dir():  # advertisers of namespaces already gone
            for path in self.root.iterdir():
                await router_ra.remove(router_ra.RaFiles(path))

    async def _ensure(
        self, router: rpc.RouterL3, links: dict[str, dict[str, Any]], mtus: dict[str, int]
    ) -> None:
        ns = self.namespace(router.id)
        inner = Shell(ns)
        if router.id not in self.nat:  # new here (or this agent restarted)
            await linux.ensure_namespace(ns)
            await inner.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                            "net.ipv6.conf.all.forwarding=1")  # fmt: skip
        wanted = legs(router)
        inside = await inner.links()
        for leg in wanted:
            await self._ensure_leg(ns, leg, links, inside, mtus.get(leg.network_id, 1500))
        keep = {leg.device for leg in wanted}
        for name in inside:
            if name.startswith(LEG_PREFIXES) and name not in keep:
                await inner.run("ip", "link", "del", name, check=False)
        await _sync_routes(inner, routes(router))
        await router_ra.ensure(ns, router, self.ra_files(router.id))
        text = router_nat.ruleset(router)
        if self.nat.get(router.id) != text:
            await inner.run("nft", "-f", "-", stdin=text)
            self.nat[router.id] = text

    async def _ensure_leg(self, ns: str, leg: Leg, links: dict[str, dict[str, Any]],
                          inside: dict[str, dict[str, Any]], mtu: int) -> None:  # fmt: skip
        inner = Shell(ns)
        tap = names.tap(leg.port_id)
        if leg.device not in inside:
            if tap in links:  # an end left from a namespace that is gone
                await self.sh.run("ip", "link", "del", tap, check=False)
            await self.sh.run("ip", "link", "add", tap, "mtu", str(mtu), "type", "veth",
                              "peer", "name", leg.device, "netns", ns)  # fmt: skip
            await self.sh.run("ip", "link", "set", tap, "up")
        link = inside.get(leg.device, {})
        if link.get("address") != leg.mac_address or "UP" not in link.get("flags", []):
            await inner.run("ip", "link", "set", leg.device, "address", leg.mac_address,
                            "mtu", str(mtu), "up")  # fmt: skip
        await _sync_addresses(inner, leg.device, set(leg.cidrs))


async def _sync_addresses(sh: Shell, device: str, wanted: set[str]) -> None:
    info: list[dict[str, Any]] = json.loads(
        await sh.run("ip", "-j", "addr", "show", "dev", device) or "[]"
    )
    have = {
        f"{a['local']}/{a['prefixlen']}"
        for i in info
        for a in i.get("addr_info", [])
        if a.get("scope") == "global"
    }
    for cidr in sorted(wanted - have):
        flags = ["nodad"] if ":" in cidr else []
        await sh.run("ip", "addr", "replace", cidr, "dev", device, *flags)
    for cidr in sorted(have - wanted):
        await sh.run("ip", "addr", "del", cidr, "dev", device, check=False)


async def _sync_routes(sh: Shell, wanted: dict[str, str]) -> None:
    """Routes this agent added carry ``proto static``; only those are compared."""
    have: dict[str, str] = {}
    for family in ("-4", "-6"):
        found: list[dict[str, Any]] = json.loads(
            await sh.run("ip", "-j", family, "route", "show", "proto", "static") or "[]"
        )
        have |= {_destination(r["dst"]): r.get("gateway", "") for r in found}
    for dst, hop in wanted.items():
        if have.get(dst) == hop:
            continue
        try:
            await sh.run("ip", "route", "replace", dst, "via", hop, "proto", "static")
        except CommandFailed as exc:  # a nexthop not (yet) on a connected subnet
            log.warning("route %s via %s not added: %s", dst, hop, exc)
    for dst in have.keys() - wanted.keys():
        await sh.run("ip", "route", "del", dst, "proto", "static", check=False)

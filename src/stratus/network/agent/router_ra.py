"""IPv6 router advertisements from a router's namespace: one dnsmasq per router, in
RA-only use (no DNS, no addresses handed out), advertising on each ``qr-`` leg the prefix
of every IPv6 subnet there that has an ``ipv6_ra_mode``. The flags follow the mode:

- ``slaac``: the prefix is autonomous, M=0 O=0 (dnsmasq's ``ra-only``);
- ``dhcpv6-stateless``: autonomous, O=1 (``ra-stateless``; the Information-Requests it
  then answers carry nothing the guest could misuse);
- ``dhcpv6-stateful``: M=1 and the prefix not autonomous (a plain range, which is how
  dnsmasq sets M; every DHCPv6 request on it is ignored, the network's own DHCP server
  hands out the addresses). dnsmasq sets O too, which RFC 4861 calls redundant beside M
  (Neutron's radvd leaves it clear; a client treats both alike).

The whole set of legs and prefixes is the process's command line, so a sync compares it
with ``/proc/<pid>/cmdline`` (this survives an agent restart) and restarts dnsmasq only
when it differs; a router with nothing to advertise has no process."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
from dataclasses import dataclass
from pathlib import Path

from stratus.network import rpc
from stratus.network.agent import dnsmasq_process, names
from stratus.network.agent.linux import Shell

# dnsmasq's words per Neutron mode (None: a managed range, with M set)
MODES: dict[str, str | None] = {
    "slaac": "ra-only",
    "dhcpv6-stateless": "ra-stateless",
    "dhcpv6-stateful": None,
}
RA_INTERVAL = 30  # seconds between unsolicited RAs (a router solicitation gets one at once)


@dataclass(frozen=True)
class Prefix:
    """One prefix advertised on one leg."""

    device: str
    cidr: str
    mode: str
    mtu: int

    @property
    def tag(self) -> str:
        return "ra" + self.cidr.replace(":", "").replace("/", "l")[:20]


def prefixes(router: rpc.RouterL3) -> list[Prefix]:
    found = []
    for i in router.interfaces:
        if i.ipv6_ra_mode not in MODES or ipaddress.ip_network(i.subnet_cidr).version != 6:
            continue
        found.append(Prefix(names.router_leg(i.port_id, False), i.subnet_cidr,
                            i.ipv6_ra_mode, i.mtu))  # fmt: skip
    return sorted(found, key=lambda p: (p.device, p.cidr))


@dataclass(frozen=True)
class RaFiles:
    root: Path  # one directory per router

    @property
    def pid(self) -> Path:
        return self.root / "ra.pid"

    @property
    def leases(self) -> Path:
        return self.root / "ra.leases"


def command(found: list[Prefix], files: RaFiles) -> list[str]:
    """dnsmasq's command line for these prefixes ([] when there is nothing to send)."""
    if not found:
        return []
    argv = [
        "dnsmasq", "--no-hosts", "--no-resolv", "--conf-file=/dev/null", "--port=0",
        f"--pid-file={files.pid}", f"--dhcp-leasefile={files.leases}", "--enable-ra",
        "--bind-interfaces", "--except-interface=lo", "--user=root", "--group=root",
    ]  # fmt: skip
    for device in sorted({p.device for p in found}):
        mtu = next(p.mtu for p in found if p.device == device)
        argv += [f"--interface={device}", f"--ra-param={device},mtu:{mtu},{RA_INTERVAL}"]
    for p in found:
        net = ipaddress.ip_network(p.cidr)
        word = MODES[p.mode]
        if word is None:
            argv.append(f"--dhcp-range=set:{p.tag},{net.network_address},static,"
                        f"{net.prefixlen}")  # fmt: skip
            argv.append(f"--dhcp-ignore=tag:{p.tag}")
        else:
            argv.append(f"--dhcp-range={net.network_address},{word},{net.prefixlen}")
    return argv


def running(files: RaFiles) -> tuple[int, list[str]] | None:
    """(pid, command line) of this router's dnsmasq if it is alive."""
    return dnsmasq_process.running(files.pid)


async def ensure(ns: str, router: rpc.RouterL3, files: RaFiles) -> None:
    """Make the namespace's advertiser match the router (start, restart or stop it)."""
    argv = command(prefixes(router), files)
    now = running(files)
    if now is not None and now[1] == argv:
        return
    if now is not None:
        await dnsmasq_process.stop(now[0])
    if argv:
        await asyncio.to_thread(files.root.mkdir, parents=True, exist_ok=True)
        await Shell(ns).run(*argv)


async def remove(files: RaFiles) -> None:
    now = running(files)
    if now is not None:
        await dnsmasq_process.stop(now[0])
    await asyncio.to_thread(shutil.rmtree, files.root, True)

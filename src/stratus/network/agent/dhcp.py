"""DHCP and DNS per network: dnsmasq in the network's own namespace, plugged into its
bridge by a veth whose namespace end carries the DHCP port's MAC and addresses (and the
metadata address). Only static host entries from the port table are served, so an
unknown MAC gets nothing and no two guests race for an address; a change rewrites the
files and sends SIGHUP, which keeps the leases."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.network import rpc
from stratus.network.agent import dnsmasq_process, linux, names
from stratus.network.agent.linux import Shell

LEASE_SECONDS = 86400
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class DhcpFiles:
    root: Path

    @property
    def pid(self) -> Path:
        return self.root / "pid"

    @property
    def hosts(self) -> Path:
        return self.root / "hosts"

    @property
    def opts(self) -> Path:
        return self.root / "opts"

    @property
    def addn_hosts(self) -> Path:
        return self.root / "addn_hosts"

    @property
    def leases(self) -> Path:
        return self.root / "leases"


def dhcp_subnets(net: rpc.Network) -> list[rpc.Subnet]:
    return [s for s in net.subnets if s.enable_dhcp and _stateful(s)]


def _stateful(s: rpc.Subnet) -> bool:
    return s.ip_version == 4 or s.ipv6_address_mode == "dhcpv6-stateful"


def hostname(port: rpc.Port, address: str) -> str:
    """The port's name when it is a valid DNS label, else Neutron's ``host-10-0-0-5``."""
    name = port.name.lower()
    if _LABEL.match(name):
        return name
    return "host-" + re.sub(r"[.:]", "-", address)


def host_lines(net: rpc.Network, ports: list[rpc.Port]) -> tuple[str, str]:
    """(``--dhcp-hostsfile``, ``--addn-hosts``) contents for the network's ports."""
    served = {s.id for s in dhcp_subnets(net)}
    hosts: list[str] = []
    names_: list[str] = []
    for port in sorted(ports, key=lambda p: p.id):
        if port.network_id != net.id or port.device_owner == rpc.DHCP_OWNER:
            continue
        ips = [f.ip_address for f in port.fixed_ips if f.subnet_id in served]
        if not ips:
            continue
        name = hostname(port, ips[0])
        wrapped = [f"[{ip}]" if ":" in ip else ip for ip in ips]
        hosts.append(",".join([port.mac_address, *wrapped, name]))
        names_.extend(f"{ip} {name}" for ip in ips)
    return "\n".join(hosts) + "\n", "\n".join(names_) + "\n"


def opts_lines(net: rpc.Network, server: rpc.Port) -> str:
    """Per-subnet options: router, DNS servers, MTU, and classless routes (option 121)
    carrying the metadata route through this server plus the subnet's host routes."""
    lines = []
    own = {f.subnet_id: f.ip_address for f in server.fixed_ips}
    for s in dhcp_subnets(net):
        tag = f"tag:{_tag(s)}"
        if s.ip_version == 6:
            if s.dns_nameservers:
                lines.append(
                    f"{tag},option6:dns-server," + ",".join(f"[{d}]" for d in s.dns_nameservers)
                )
            continue
        dns = s.dns_nameservers or ([own[s.id]] if s.id in own else [])
        lines.append(f"{tag},option:dns-server," + ",".join(dns))
        lines.append(f"{tag},option:mtu,{net.mtu}")
        lines.append(f"{tag},option:router" + (f",{s.gateway_ip}" if s.gateway_ip else ""))
        routes = [f"{r['destination']},{r['nexthop']}" for r in s.host_routes]
        if s.id in own:
            via = own[s.id] if s.gateway_ip else "0.0.0.0"
            routes.insert(0, f"{names.METADATA_ADDRESS}/32,{via}")
        if s.gateway_ip:
            routes.append(f"0.0.0.0/0,{s.gateway_ip}")
        lines.append(f"{tag},option:classless-static-route," + ",".join(routes))
    return "\n".join(lines) + "\n"


def _tag(s: rpc.Subnet) -> str:
    return "subnet-" + s.id.replace("-", "")[:12]


def command(net: rpc.Network, files: DhcpFiles) -> list[str]:
    argv = [
        "dnsmasq", "--no-hosts", "--no-resolv", "--conf-file=/dev/null",
        f"--pid-file={files.pid}", f"--dhcp-hostsfile={files.hosts}",
        f"--dhcp-optsfile={files.opts}", f"--addn-hosts={files.addn_hosts}",
        f"--dhcp-leasefile={files.leases}", f"--interface={names.NS_DEVICE}",
        "--bind-interfaces", "--except-interface=lo", "--dhcp-authoritative",
        "--user=root", "--group=root", "--domain=openstacklocal",
    ]  # fmt: skip
    for s in dhcp_subnets(net):
        cidr = ipaddress.ip_network(s.cidr)
        mask = str(cidr.netmask) if s.ip_version == 4 else str(cidr.prefixlen)
        argv.append(f"--dhcp-range=set:{_tag(s)},{cidr.network_address},static,{mask},"
                    f"{LEASE_SECONDS}s")  # fmt: skip
    return argv


def running_pid(files: DhcpFiles) -> int | None:
    """The pid of this network's dnsmasq if it is alive (it outlives an agent restart)."""
    found = dnsmasq_process.running(files.pid)
    return found[0] if found else None


@dataclass(frozen=True)
class Served:
    """What a network's DHCP server was last set up with (a sync that changes nothing
    runs no command and sends no signal)."""

    network: rpc.Network
    server: rpc.Port
    text: tuple[str, str, str]


async def ensure(sh: Shell, ns: str, net: rpc.Network, *, server: rpc.Port,
                 ports: list[rpc.Port], files: DhcpFiles, links: dict[str, dict[str, Any]],
                 last: Served | None) -> Served:  # fmt: skip
    """The namespace ``ns``, its veth and addresses, the files, and dnsmasq on them."""
    text = (*host_lines(net, ports), opts_lines(net, server))
    wired = last is not None and (last.network, last.server) == (net, server)
    if not (wired and names.dhcp_veth(net.id) in links):
        await linux.ensure_namespace(ns)
        await _ensure_veth(sh, ns, net, server, links)
    pid = running_pid(files)
    if pid is not None and last is not None and dhcp_subnets(last.network) != dhcp_subnets(net):
        await dnsmasq_process.stop(pid)  # new ranges need a new command line
        pid = None
    if pid is not None and wired and last is not None and last.text == text:
        return last
    await asyncio.to_thread(_write, files, *text)
    if pid is not None:
        os.kill(pid, signal.SIGHUP)  # rereads hosts and options, keeps the leases
    else:
        await sh.run(*command(net, files), namespace=ns)
    return Served(net, server, text)


def _write(files: DhcpFiles, hosts: str, addn: str, opts: str) -> None:
    files.root.mkdir(parents=True, exist_ok=True)
    for path, text in ((files.hosts, hosts), (files.addn_hosts, addn), (files.opts, opts)):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)


async def _ensure_veth(sh: Shell, ns: str, net: rpc.Network, server: rpc.Port,
                       links: dict[str, dict[str, Any]]) -> None:  # fmt: skip
    outer = names.dhcp_veth(net.id)
    if outer not in links:
        await sh.run("ip", "link", "add", outer, "mtu", str(net.mtu), "type", "veth", "peer",
                     "name", names.NS_DEVICE, "netns", ns)  # fmt: skip
        await sh.run("ip", "link", "set", outer, "master", names.bridge(net.id), "up")
    inner = Shell(ns)
    await inner.run("ip", "link", "set", names.NS_DEVICE, "address", server.mac_address,
                    "mtu", str(net.mtu), "up")  # fmt: skip
    cidrs = {s.id: ipaddress.ip_network(s.cidr) for s in net.subnets}
    wanted = [f"{names.METADATA_ADDRESS}/32"] + [
        f"{f.ip_address}/{cidrs[f.subnet_id].prefixlen}"
        for f in server.fixed_ips if f.subnet_id in cidrs
    ]  # fmt: skip
    for cidr in wanted:
        flags = ["nodad"] if ":" in cidr else []
        await inner.run("ip", "addr", "replace", cidr, "dev", names.NS_DEVICE, *flags)


async def remove(ns: str, files: DhcpFiles) -> None:
    """Stop dnsmasq, delete the namespace (its veth goes with it) and the files."""
    pid = running_pid(files)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    await linux.delete_namespace(ns)
    await asyncio.to_thread(shutil.rmtree, files.root, True)

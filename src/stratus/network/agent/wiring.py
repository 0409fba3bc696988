"""Layer 2: a Linux bridge per network, its uplink (a unicast VXLAN device, or a flat or
VLAN interface on a physical network), and the ports' tap devices enslaved to it."""

from __future__ import annotations

import json
import logging
from typing import Any

from stratus.network import rpc
from stratus.network.agent import names
from stratus.network.agent.linux import Shell

log = logging.getLogger(__name__)

VXLAN_PORT = "4789"
ANY_MAC = "00:00:00:00:00:00"


async def ensure_network(
    sh: Shell,
    net: rpc.Network,
    links: dict[str, dict[str, Any]],
    *,
    local_ip: str,
    physical: dict[str, str],
) -> None:
    """The network's bridge and uplink, created if missing; VXLAN peers made current."""
    bridge = names.bridge(net.id)
    if bridge not in links:
        await sh.run("ip", "link", "add", bridge, "mtu", str(net.mtu), "type", "bridge")
        await sh.run("ip", "link", "set", bridge, "up")
    if net.network_type == "vxlan" and local_ip and net.segmentation_id is not None:
        await _ensure_vxlan(sh, net, bridge, links, local_ip)
    elif net.network_type in ("flat", "vlan") and net.physical_network in physical:
        await _ensure_physical(sh, net, bridge, links, physical[net.physical_network])


async def _ensure_vxlan(
    sh: Shell, net: rpc.Network, bridge: str, links: dict[str, dict[str, Any]], local_ip: str
) -> None:
    dev = names.vxlan(net.id)
    if dev not in links:
        await sh.run("ip", "link", "add", dev, "type", "vxlan", "id", str(net.segmentation_id),
                     "local", local_ip, "dstport", VXLAN_PORT, "nolearning")  # fmt: skip
        await sh.run("ip", "link", "set", dev, "master", bridge, "mtu", str(net.mtu), "up")
    have = await _flood_peers(sh, dev)
    for peer in set(net.peers) - have:
        await sh.run("bridge", "fdb", "append", ANY_MAC, "dev", dev, "dst", peer)
    for peer in have - set(net.peers):
        await sh.run("bridge", "fdb", "del", ANY_MAC, "dev", dev, "dst", peer, check=False)


async def _flood_peers(sh: Shell, dev: str) -> set[str]:
    """The peers broadcast and unknown frames are sent to (all-zero FDB entries)."""
    entries: list[dict[str, Any]] = json.loads(
        await sh.run("bridge", "-j", "fdb", "show", "dev", dev) or "[]"
    )
    return {e["dst"] for e in entries if e.get("mac") == ANY_MAC and "dst" in e}


async def _ensure_physical(
    sh: Shell, net: rpc.Network, bridge: str, links: dict[str, dict[str, Any]], iface: str
) -> None:
    if net.network_type == "flat":
        if links.get(iface, {}).get("master") != bridge:
            await sh.run("ip", "link", "set", iface, "master", bridge, "up")
        return
    dev = names.vlan(net.id)
    if dev not in links:
        await sh.run("ip", "link", "add", "link", iface, "name", dev, "type", "vlan",
                     "id", str(net.segmentation_id))  # fmt: skip
        await sh.run("ip", "link", "set", iface, "up")
        await sh.run("ip", "link", "set", dev, "master", bridge, "up")


async def plug(sh: Shell, device: str, net: rpc.Network) -> None:
    """Enslave a port's tap (made by QEMU, or a test's veth) to its network's bridge."""
    bridge = names.bridge(net.id)
    await sh.run("ip", "link", "set", device, "master", bridge, "mtu", str(net.mtu), "up")


async def remove_network(sh: Shell, network_id: str, links: dict[str, dict[str, Any]]) -> None:
    for dev in (names.vxlan(network_id), names.vlan(network_id), names.bridge(network_id)):
        if dev in links:
            await sh.run("ip", "link", "del", dev, check=False)


def owned_networks(links: dict[str, dict[str, Any]]) -> set[str]:
    """Short ids of the networks whose bridges exist here (for cleanup)."""
    return {n.removeprefix(names.BRIDGE) for n in links if n.startswith(names.BRIDGE)}

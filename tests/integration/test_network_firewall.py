"""The network agent's security group tables with the real ``nft``, in a namespace of
their own: what one apply builds, the next takes down."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator

import pytest
from netguests import in_ns, sh

from stratus.network import rpc
from stratus.network.agent.firewall import TABLE, Firewall
from stratus.network.agent.linux import Shell
from stratus.network.agent.sg_rules import group_chain

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nftables"
)


@pytest.fixture
def namespace() -> Iterator[str]:
    ns = f"stfw{secrets.token_hex(3)}"
    sh("ip", "netns", "add", ns)
    try:
        yield ns
    finally:
        sh("ip", "netns", "delete", ns, check=False)


def _port(n: int, group: str) -> rpc.Port:
    return rpc.Port(id=f"{n:08x}-0000-4000-8000-000000000000", network_id="n1",
                    project_id="p1", mac_address=f"fa:16:3e:00:00:{n:02x}", host="h1",
                    device_owner="compute:nova", security_groups=[group])  # fmt: skip


def test_ports_and_their_groups_go_in_one_apply(namespace: str) -> None:
    """The last ports of several groups deleted together: their chains jump to the
    groups' chains, which go in the same transaction."""
    groups = [f"{n:08x}-1111-4000-8000-000000000000" for n in range(4)]
    ssh = rpc.Rule(direction="ingress", ethertype="IPv4", protocol="tcp",
                   port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0")  # fmt: skip
    rules = {g: [ssh, rpc.Rule(direction="egress", ethertype="IPv4")] for g in groups}
    ports = [_port(n, g) for n, g in enumerate(groups, 1)]
    firewall = Firewall(Shell(namespace))
    chains = [group_chain(g, d) for g in groups for d in ("ingress", "egress")]

    async def both() -> None:
        assert await firewall.apply(ports, rpc.HostConfig(host="h1", rules=rules)) > 0
        assert all(c in _listed(namespace) for c in chains)
        await firewall.apply([], rpc.HostConfig(host="h1"))

    asyncio.run(both())
    listed = _listed(namespace)
    assert "chain" in listed  # the base chains stay
    assert not any(c in listed for c in chains) and firewall.chains == {}


def _listed(namespace: str) -> str:
    return in_ns(namespace, "nft", "list", "table", "inet", TABLE).stdout

"""A server's ports, as the conductor asks the network service for them (DESIGN §2: the
network is allocated once the scheduler chose a host, before the agent is told).

``network.bind_ports`` makes the ports on the first build and moves them to the new
host on a retry, a migration or an evacuation; what it answers is kept on the instance
(``network_info``), so every later build message carries the same NICs, and the API's
``addresses`` show them. A server that is gone or failed gives its ports back
(``network.unbind_ports``: made ones deleted, the user's own released).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from stratus.compute import rpc
from stratus.compute.conductor.state import Conductor
from stratus.compute.models import Instance
from stratus.network.binding_rpc import (
    NETWORK_TOPIC,
    BindPorts,
    BoundPort,
    RequestedNetwork,
    UnbindPorts,
)

log = logging.getLogger(__name__)

ALLOCATION_FAILED = "Failed to allocate the network(s), not rescheduling."


@dataclass(frozen=True)
class Nics:
    """What to bind for one instance, read from its row."""

    instance_id: str
    project_id: str
    zone: str | None
    requested: list[RequestedNetwork]
    security_groups: list[str]

    def given_ports(self) -> list[str]:
        """The user's own ports (released, not deleted, when the server goes)."""
        return [r.port_id for r in self.requested if r.port_id]


def nics_of(inst: Instance) -> Nics | None:
    """``None`` for a server without NICs (no call to make)."""
    if not isinstance(inst.networks, list) or not inst.networks:
        return None
    return Nics(
        instance_id=inst.id,
        project_id=inst.project_id,
        zone=inst.availability_zone,
        requested=[RequestedNetwork.model_validate(n) for n in inst.networks],
        security_groups=list(inst.security_groups or []),
    )


async def bind(c: Conductor, nics: Nics, host: str) -> list[BoundPort]:
    """The instance's ports, bound to ``host`` (raises the network service's error)."""
    msg = BindPorts(
        instance_id=nics.instance_id, project_id=nics.project_id, host=host, zone=nics.zone,
        requested=nics.requested, security_groups=nics.security_groups,
    )  # fmt: skip
    reply = await c.bus.call(NETWORK_TOPIC, msg)
    return reply.ports


def store(inst: Instance, ports: list[BoundPort]) -> None:
    """Keep the bound ports on the row, and the ``addresses`` Nova shows for them."""
    inst.network_info = [p.model_dump() for p in ports]
    addresses: dict[str, list[dict[str, Any]]] = {}
    for p in ports:
        for a in p.addresses:
            addresses.setdefault(p.network_name or p.network_id, []).append(
                {"addr": a.ip_address, "version": a.version, "OS-EXT-IPS:type": "fixed",
                 "OS-EXT-IPS-MAC:mac_addr": p.mac_address}
            )  # fmt: skip
    inst.addresses = addresses


def wire(inst: Instance) -> list[rpc.Port]:
    """The NICs a build message carries (from what ``store`` kept)."""
    ports = [BoundPort.model_validate(p) for p in inst.network_info or []]
    return [
        rpc.Port(
            port_id=p.port_id, mac=p.mac_address,
            fixed_ips=[a.ip_address for a in p.addresses], vif_type=p.vif_type,
            vif_details=p.vif_details, device=p.device,
        )
        for p in ports
    ]  # fmt: skip


async def unbind(c: Conductor, instance_id: str, keep: list[str]) -> None:
    """Give the ports back; a failure is logged (the ports stay, visible in the API, for
    the user or an admin to delete), never a reason to keep a server that is gone."""
    try:
        await c.bus.call(NETWORK_TOPIC, UnbindPorts(instance_id=instance_id, keep=keep))
    except Exception as exc:
        log.warning("cannot release the ports of %s: %s", instance_id, exc)


async def follow(c: Conductor, inst: Instance | rpc.Instance, host: str) -> None:
    """Move a server's ports to the host that now runs it (a resize, a migration, an
    evacuation or its undoing), so that host's network agent wires them. A failure is
    logged: the guest runs, and the next move or a rebuild binds again."""
    if not (inst.network_info if isinstance(inst, Instance) else inst.ports):
        return
    msg = BindPorts(instance_id=inst.id, project_id=inst.project_id, host=host)
    try:
        await c.bus.call(NETWORK_TOPIC, msg)
    except Exception as exc:
        log.warning("cannot move the ports of %s to %s: %s", inst.id, host, exc)

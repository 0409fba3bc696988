"""The registry's view of compute's services, in Nova's names (``nova-compute``...).

The registry (heartbeats) knows which service runs where and whether it is up; the
compute node rows know the hosts' resources and zones. Ids: a UUID per service from
2.53, and a stable integer derived from it before, as Nova's were integers then.
"""

from __future__ import annotations

import uuid
import zlib

from stratus.common.rpc import Bus
from stratus.registry.rpc import TOPIC, ListServices, ServiceInfo

# registry binary -> Nova's binary
NOVA_BINARIES = {
    "stratus-compute-agent": "nova-compute",
    "stratus-conductor": "nova-conductor",
    "stratus-scheduler": "nova-scheduler",
}
STRATUS_BINARIES = {nova: ours for ours, nova in NOVA_BINARIES.items()}
AGENT_BINARY = "stratus-compute-agent"


def legacy_id(text: str) -> int:
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def service_uuid(info: ServiceInfo) -> str:
    try:
        return str(uuid.UUID(info.id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stratus-service:{info.id}"))


def hypervisor_uuid(host: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stratus-hypervisor:{host}"))


async def compute_services(bus: Bus, binary: str | None = None) -> list[ServiceInfo]:
    """Services of compute's binaries (``binary`` in Nova's naming narrows them)."""
    listed = await bus.call(TOPIC, ListServices(binary=STRATUS_BINARIES.get(binary or "")))
    return [s for s in listed.services if s.binary in NOVA_BINARIES]


async def agents_up(bus: Bus) -> dict[str, bool]:
    """host -> whether its compute agent is up (hosts never heard of are absent)."""
    listed = await bus.call(TOPIC, ListServices(binary=AGENT_BINARY))
    return {s.host: s.up for s in listed.services}

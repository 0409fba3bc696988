"""Host reports: keep ``compute_nodes`` current and remove instances a host should not
have (deleted while its agent was down, evacuated away, moved elsewhere).

``last_seen`` is what "up" means: a host whose report is older than
``compute.agent_down_after`` is down (``Conductor.is_up``; the scheduler's filter reads
the same column).
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.compute import rpc
from stratus.compute.conductor.state import Conductor
from stratus.compute.models import ComputeNode, Instance
from stratus.compute.states import VmState

log = logging.getLogger(__name__)


async def on_host_report(c: Conductor, report: rpc.HostReport) -> None:
    async with c.db.session() as s:
        node = await s.get(ComputeNode, report.host)
        if node is None:
            node = ComputeNode(host=report.host, created_at=c.clock())
            s.add(node)
            log.info("new compute host %s (%s)", report.host, report.resources.hypervisor_type)
        res = report.resources
        node.hypervisor_hostname = res.hypervisor_hostname
        node.hypervisor_type = res.hypervisor_type
        node.hypervisor_version = res.hypervisor_version
        node.cpu_arch = res.cpu_arch
        node.vcpus, node.memory_mb, node.local_gb = res.vcpus, res.memory_mb, res.local_gb
        node.last_seen = c.clock()
        await _usage(s, node)
        strays = await _strays(s, report)
    for iid in strays:
        log.info("host %s still has instance %s, which it should not: destroying it",
                 report.host, iid)  # fmt: skip
        await c.to_agent(report.host, rpc.DestroyInstance(instance_id=iid))


async def _usage(s: AsyncSession, node: ComputeNode) -> None:
    """How many instances the host runs. The used vCPU/RAM/disk counters are the
    scheduler's: they are the sum of its claims (``scheduler/claims.py``), changed only
    with them, so a report never races a claim."""
    node.running_vms = int(
        await s.scalar(
            select(func.count()).where(
                Instance.host == node.host, Instance.vm_state != VmState.DELETED
            )
        )
        or 0
    )


async def _strays(s: AsyncSession, report: rpc.HostReport) -> list[str]:
    """Reported instances that are deleted, unknown, or belong to another host."""
    if not report.instances:
        return []
    rows = await s.execute(
        select(Instance.id, Instance.vm_state, Instance.host, Instance.source_host).where(
            Instance.id.in_(list(report.instances))
        )
    )
    known = {iid: (vm, host, source) for iid, vm, host, source in rows}
    strays = []
    for iid in report.instances:
        vm, host, source = known.get(iid, (VmState.DELETED, None, None))
        if vm == VmState.DELETED or report.host not in (host, source):
            strays.append(iid)
    return strays

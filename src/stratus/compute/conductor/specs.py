"""From an instance row to what others need: the agent's ``Instance``, the scheduler's
``RequestSpec``; and asking the scheduler."""

from __future__ import annotations

import logging
import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.compute import rpc
from stratus.compute.conductor import ports
from stratus.compute.conductor.metadata import record_of
from stratus.compute.conductor.state import Conductor
from stratus.compute.models import Instance, ServerGroup
from stratus.compute.states import VmState
from stratus.scheduler.rpc import SCHEDULER_TOPIC, RequestSpec, SelectHosts, Selection

log = logging.getLogger(__name__)


def wire_flavor(flavor: dict[str, Any]) -> rpc.Flavor:
    return rpc.Flavor(
        name=str(flavor.get("name", "")),
        vcpus=int(flavor.get("vcpus", 1)),
        memory_mb=int(flavor.get("memory_mb", 0)),
        root_gb=int(flavor.get("root_gb", 0)),
        ephemeral_gb=int(flavor.get("ephemeral_gb", 0)),
        swap_mb=int(flavor.get("swap_mb", 0)),
        extra_specs={str(k): str(v) for k, v in (flavor.get("extra_specs") or {}).items()},
    )


def wire_instance(inst: Instance, flavor: dict[str, Any] | None = None) -> rpc.Instance:
    """Everything the agent needs to build ``inst`` (with ``flavor`` instead of its own)."""
    return rpc.Instance(
        id=inst.id,
        name=inst.name,
        hostname=inst.hostname,
        project_id=inst.project_id,
        flavor=wire_flavor(flavor if flavor is not None else inst.flavor),
        image=rpc.Image(id=inst.image_ref, disk_format="", container_format="", size=0)
        if inst.image_ref
        else None,
        ports=ports.wire(inst),
        key_data=inst.key_data,
        user_data=inst.user_data,
        metadata=dict(inst.metadata_ or {}),
        drive_metadata=record_of(inst, inst.availability_zone or "") if inst.config_drive else None,
    )


def disk_gb(flavor: dict[str, Any]) -> int:
    swap_gb = math.ceil(int(flavor.get("swap_mb", 0)) / 1024)
    return int(flavor.get("root_gb", 0)) + int(flavor.get("ephemeral_gb", 0)) + swap_gb


async def request_spec(
    s: AsyncSession,
    inst: Instance,
    *,
    ignore_hosts: list[str],
    flavor: dict[str, Any] | None = None,
    force_host: str | None = None,
) -> RequestSpec:
    """The scheduling request for one instance, rebuilt from its row (retries, resize,
    migrations: the API's original spec is not kept)."""
    f = flavor if flavor is not None else inst.flavor
    policy, group_hosts = await _group(s, inst)
    return RequestSpec(
        instance_ids=[inst.id],
        project_id=inst.project_id,
        vcpus=int(f.get("vcpus", 1)),
        memory_mb=int(f.get("memory_mb", 0)),
        disk_gb=disk_gb(f),
        availability_zone=inst.availability_zone,
        image_properties=dict(inst.image_properties or {}),
        flavor_extra_specs={str(k): str(v) for k, v in (f.get("extra_specs") or {}).items()},
        server_group_policy=policy,
        server_group_hosts=group_hosts,
        server_group_id=inst.server_group_id,
        ignore_hosts=ignore_hosts,
        force_host=force_host or None,
    )


async def _group(s: AsyncSession, inst: Instance) -> tuple[str | None, list[str]]:
    if inst.server_group_id is None:
        return None, []
    group = await s.get(ServerGroup, inst.server_group_id)
    if group is None:
        return None, []
    hosts = await s.scalars(
        select(Instance.host).where(
            Instance.server_group_id == group.id,
            Instance.id != inst.id,
            Instance.vm_state != VmState.DELETED,
            Instance.host.is_not(None),
        )
    )
    return group.policy, sorted({h for h in hosts if h})


async def select_hosts(c: Conductor, spec: RequestSpec) -> Selection:
    """The scheduler's choice; its failure to answer is a reason like any other."""
    try:
        return await c.bus.call(SCHEDULER_TOPIC, SelectHosts(spec=spec))
    except Exception as exc:
        log.warning("scheduling %s failed: %s", ", ".join(spec.instance_ids), exc)
        return Selection(reason=f"the scheduler did not answer: {exc}")


NO_VALID_HOST = "No valid host was found."


def no_host_message(selection: Selection) -> str:
    """Nova's words, followed by which filter removed how many hosts."""
    reason = selection.reason or "no host can take it"
    return f"{NO_VALID_HOST} {reason}"

"""How a server looks on the wire, per microversion (2.3, 2.9, 2.16, 2.19, 2.26, 2.47,
2.63, 2.71, 2.73), and how handlers load one the caller may see."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.asgi.routing import ApiRequest
from stratus.common.context import RequestContext
from stratus.compute import states
from stratus.compute.api.common import is_uuid, links, not_found
from stratus.compute.api.host_zones import server_zone
from stratus.compute.api.microversion import since
from stratus.compute.models import Instance
from stratus.compute.states import TaskState, VmState

_PROGRESS = {"BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}


async def load_server(s: AsyncSession, ctx: RequestContext, server_id: str) -> Instance:
    """A live server of the caller's project (any project for an admin), else 404."""
    inst = await s.get(Instance, server_id) if is_uuid(server_id) else None
    if inst is None or inst.vm_state == VmState.DELETED:
        raise not_found("Instance", server_id)
    if inst.project_id != ctx.project_id and not ctx.is_admin:
        raise not_found("Instance", server_id)
    return inst


def status_of(inst: Instance) -> str:
    task = TaskState(inst.task_state) if inst.task_state else None
    return states.status(VmState(inst.vm_state), task)


def host_id(project_id: str, host: str | None) -> str:
    """Nova's ``hostId``: the host, hashed with the project so projects cannot compare."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def iso(value: Any) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _flavor(req: ApiRequest, inst: Instance) -> dict[str, Any]:
    f = inst.flavor or {}
    if not since(req, 47):
        fid = str(f.get("id", ""))
        return {"id": fid, "links": [links(req, "flavors", fid)[1]]}
    return {
        "vcpus": f.get("vcpus"),
        "ram": f.get("memory_mb"),
        "disk": f.get("root_gb"),
        "ephemeral": f.get("ephemeral_gb", 0),
        "swap": f.get("swap_mb", 0),
        "original_name": f.get("name"),
        "extra_specs": dict(f.get("extra_specs") or {}),
    }


def _image(req: ApiRequest, inst: Instance) -> Any:
    if not inst.image_ref:
        return ""
    return {"id": inst.image_ref, "links": [links(req, "images", inst.image_ref)[1]]}


def _admin_attrs(req: ApiRequest, inst: Instance) -> dict[str, Any]:
    out: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": inst.host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": inst.node,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{inst.id[:8]}",
    }
    if since(req, 3):
        out.update(
            {
                "OS-EXT-SRV-ATTR:reservation_id": inst.reservation_id,
                "OS-EXT-SRV-ATTR:launch_index": inst.launch_index,
                "OS-EXT-SRV-ATTR:hostname": inst.hostname,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": inst.user_data,
            }
        )
    return out


def fault_view(req: ApiRequest, inst: Instance) -> dict[str, Any] | None:
    fault = inst.fault
    if not fault or inst.vm_state not in (VmState.ERROR, VmState.DELETED):
        return None
    code = int(fault.get("code", 500))
    out = {
        "code": code,
        "message": fault.get("message", ""),
        "created": fault.get("created") or iso(inst.updated_at),
    }
    if req.ctx.is_admin or code != 500:
        out["details"] = fault.get("details", "")
    return out


def _versioned(req: ApiRequest, inst: Instance, *, show: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if since(req, 9):
        out["locked"] = inst.locked
    if since(req, 16) and req.ctx.is_admin:
        out["host_status"] = "UP" if inst.host else ""
    if since(req, 19):
        out["description"] = inst.description
    if since(req, 26):
        out["tags"] = list(inst.tags or [])
    if since(req, 63):
        out["trusted_image_certificates"] = None
    if since(req, 71) and show:
        out["server_groups"] = [inst.server_group_id] if inst.server_group_id else []
    if since(req, 73):
        out["locked_reason"] = inst.locked_reason
    return out


def server_view(
    req: ApiRequest, inst: Instance, zones: Mapping[str, str], *, show: bool = False
) -> dict[str, Any]:
    """``zones``: host -> availability zone (``host_zones.server_zones``)."""
    status = status_of(inst)
    view: dict[str, Any] = {
        "id": inst.id,
        "name": inst.name,
        "status": status,
        "tenant_id": inst.project_id,
        "user_id": inst.user_id,
        "metadata": dict(inst.metadata_ or {}),
        "hostId": host_id(inst.project_id, inst.host),
        "image": _image(req, inst),
        "flavor": _flavor(req, inst),
        "created": iso(inst.created_at),
        "updated": iso(inst.updated_at),
        "addresses": dict(inst.addresses or {}),
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(req, "servers", inst.id),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server_zone(inst, zones),
        "config_drive": "True" if inst.config_drive else "",
        "key_name": inst.key_name,
        "OS-SRV-USG:launched_at": iso(inst.launched_at),
        "OS-SRV-USG:terminated_at": iso(inst.terminated_at),
        "OS-EXT-STS:task_state": inst.task_state,
        "OS-EXT-STS:vm_state": inst.vm_state,
        "OS-EXT-STS:power_state": inst.power_state,
        "os-extended-volumes:volumes_attached": [],
    }
    if inst.security_groups:
        view["security_groups"] = [{"name": n} for n in inst.security_groups]
    if status in _PROGRESS:
        view["progress"] = 0
    if req.ctx.is_admin:
        view.update(_admin_attrs(req, inst))
    fault = fault_view(req, inst)
    if fault is not None:
        view["fault"] = fault
    view.update(_versioned(req, inst, show=show))
    return view


def brief_view(req: ApiRequest, inst: Instance) -> dict[str, Any]:
    return {"id": inst.id, "name": inst.name, "links": links(req, "servers", inst.id)}

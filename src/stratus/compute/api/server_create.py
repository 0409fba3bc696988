"""``POST /servers``: resolve the request against flavors, the image service, key pairs,
server groups and zones; check quota; write the instances (``building``/``scheduling``)
with their ``create`` actions; cast ``conductor.build_servers``; answer 202.

Everything after the cast (scheduling, the host, ACTIVE or ERROR) is the conductor's.
"""

from __future__ import annotations

import math
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import NotFound, OverQuota, Unavailable
from stratus.common.rpc import BusUnavailable
from stratus.compute.api import quotas, server_networks
from stratus.compute.api.common import WRITE, bad, body_of, links
from stratus.compute.api.flavors import load_flavor
from stratus.compute.api.images import ImageInfo
from stratus.compute.api.microversion import version_of
from stratus.compute.api.server_request import ServerRequest, parse
from stratus.compute.api.state import ComputeApiState, state_of
from stratus.compute.api.zones import known_zones
from stratus.compute.conductor_rpc import BuildServers
from stratus.compute.models import (
    ComputeNode,
    Flavor,
    Instance,
    InstanceAction,
    KeyPair,
    ServerGroup,
)
from stratus.compute.rpc import CONDUCTOR_TOPIC
from stratus.compute.states import TaskState, VmState
from stratus.scheduler.rpc import RequestSpec

routes = Routes("os_compute_api")
_HOSTNAME_BAD = re.compile(r"[^a-z0-9-]+")


def flavor_copy(f: Flavor) -> dict[str, Any]:
    """What an instance keeps of its flavor (models: editing a flavor changes no server)."""
    return {
        "id": f.id,
        "name": f.name,
        "vcpus": f.vcpus,
        "memory_mb": f.memory_mb,
        "root_gb": f.root_gb,
        "ephemeral_gb": f.ephemeral_gb,
        "swap_mb": f.swap_mb,
        "rxtx_factor": f.rxtx_factor,
        "extra_specs": dict(f.extra_specs or {}),
    }


def hostname_of(name: str) -> str:
    return _HOSTNAME_BAD.sub("-", name.lower()).strip("-")[:63] or "server"


async def resolve_flavor(req: ApiRequest, s: AsyncSession, ref: str) -> Flavor:
    try:
        flavor = await load_flavor(s, req.ctx, ref)
    except NotFound:
        raise bad(f"Flavor {ref} could not be found.") from None
    if flavor.disabled:
        raise bad("Flavor is disabled.")
    return flavor


async def resolve_image(req: ApiRequest, ref: str, flavor: Flavor) -> ImageInfo:
    try:
        uuid.UUID(ref)
    except ValueError:
        raise bad("Invalid imageRef provided.") from None
    image = await state_of(req).images.get(req.ctx, ref)
    if image is None:
        raise bad(f"Image {ref} could not be found.")
    if image.status != "active":
        raise bad(f"Image {ref} is not active.")
    if image.min_ram > flavor.memory_mb:
        raise bad("Flavor's memory is too small for requested image.")
    if flavor.root_gb and image.min_disk > flavor.root_gb:
        raise bad("Flavor's disk is too small for requested image.")
    return image


async def _key_data(req: ApiRequest, s: AsyncSession, name: str | None) -> str | None:
    if name is None:
        return None
    key = await s.scalar(
        sa.select(KeyPair.public_key).where(
            KeyPair.user_id == req.ctx.user_id, KeyPair.name == name
        )
    )
    if key is None:
        raise bad("Invalid key_name provided.")
    return key


async def _group(req: ApiRequest, s: AsyncSession, r: ServerRequest) -> ServerGroup | None:
    group_id = r.hints.get("group")
    if group_id is None:
        return None
    group = await s.get(ServerGroup, group_id)
    if group is None or (group.project_id != req.ctx.project_id and not req.ctx.is_admin):
        raise bad(f"Invalid server group {group_id}.")
    limits = await quotas.limits_of(state_of(req), s, req.ctx.project_id or "")
    members = await s.scalar(
        sa.select(sa.func.count()).where(
            Instance.server_group_id == group.id, Instance.vm_state != VmState.DELETED
        )
    )
    limit = limits["server_group_members"]
    if limit >= 0 and (members or 0) + r.min_count > limit:
        raise OverQuota(
            "compute.quota.server_group_members", "Quota exceeded, too many servers in group"
        )
    return group


async def _zone(
    req: ApiRequest, s: AsyncSession, r: ServerRequest
) -> tuple[str | None, str | None]:
    """(zone, forced host): ``zone:host`` or ``host`` (2.74) name a host, for admins only.

    A server that names no zone is not pinned to one (Nova's ``default_schedule_zone`` is
    unset): it may land in any zone, and shows its host's."""
    st = state_of(req)
    name, _, host = (r.availability_zone or "").partition(":")
    host = host or r.host or ""
    if host:
        enforce(req.ctx.is_admin, "compute:servers:create:requested_destination")
        if await s.get(ComputeNode, host) is None:
            raise bad(f"Compute host {host} could not be found.")
    if name and name not in await known_zones(st, s):
        raise bad("The requested availability zone is not available")
    return name or None, host or None


def _check_metadata(limits: dict[str, int], metadata: dict[str, str]) -> None:
    limit = limits["metadata_items"]
    if limit >= 0 and len(metadata) > limit:
        raise OverQuota(
            "compute.quota.metadata_items",
            f"Quota exceeded for metadata_items: Requested {len(metadata)}, "
            f"but already used 0 of {limit} metadata_items",
        )


def _instances(
    req: ApiRequest, r: ServerRequest, count: int, common: dict[str, Any]
) -> list[Instance]:
    reservation = f"r-{secrets.token_hex(4)}"
    out = []
    for index in range(count):
        name = r.name if count == 1 else f"{r.name}-{index + 1}"
        out.append(
            Instance(
                id=str(uuid.uuid4()),
                name=name,
                hostname=hostname_of(name),
                launch_index=index,
                reservation_id=reservation,
                project_id=req.ctx.project_id,
                user_id=req.ctx.user_id,
                vm_state=VmState.BUILDING,
                task_state=TaskState.SCHEDULING,
                power_state=0,
                **common,
            )
        )
    return out


@dataclass(frozen=True)
class Resolved:
    """What a create request names, found: flavor, image, group, (zone, forced host)."""

    flavor: Flavor
    image: ImageInfo
    group: ServerGroup | None
    zone: tuple[str | None, str | None]

    def spec(self, ids: list[str], r: ServerRequest, project_id: str) -> RequestSpec:
        f = self.flavor
        swap_gb = math.ceil(f.swap_mb / 1024)
        return RequestSpec(
            instance_ids=ids,
            project_id=project_id,
            vcpus=f.vcpus,
            memory_mb=f.memory_mb,
            disk_gb=f.root_gb + f.ephemeral_gb + swap_gb,
            availability_zone=self.zone[0],
            force_host=self.zone[1],
            image_properties=self.image.properties,
            flavor_extra_specs=dict(f.extra_specs),
            server_group_policy=self.group.policy if self.group else None,
            server_group_id=self.group.id if self.group else None,
            min_count=r.min_count,
        )


def _common(
    r: ServerRequest,
    flavor: Flavor,
    image: ImageInfo,
    zone: str | None,
    group: ServerGroup | None,
    *,
    networks: list[dict[str, Any]],
) -> dict[str, Any]:
    """The columns every instance of one request shares."""
    return {
        "description": r.description, "image_ref": image.id, "flavor": flavor_copy(flavor),
        "image_properties": dict(image.properties),
        "availability_zone": zone, "key_name": r.key_name, "user_data": r.user_data,
        "metadata_": r.metadata, "tags": r.tags, "networks": networks,
        "security_groups": r.security_groups, "scheduler_hints": r.hints,
        "server_group_id": group.id if group else None,
        "config_drive": r.config_drive,
    }  # fmt: skip


async def _write(req: ApiRequest, r: ServerRequest) -> tuple[list[Instance], RequestSpec]:
    st, ctx = state_of(req), req.ctx
    async with st.db.session() as s:
        flavor = await resolve_flavor(req, s, r.flavor_ref)
    image = await resolve_image(req, r.image_ref, flavor)
    networks = await server_networks.resolve(
        st.bus, ctx, r.networks, r.max_count, r.security_groups
    )
    async with quotas.project_lock(ctx.project_id or ""), st.db.session() as s:
        limits = await quotas.limits_of(st, s, ctx.project_id or "")
        _check_metadata(limits, r.metadata)
        key_data = await _key_data(req, s, r.key_name)
        group, zone = await _group(req, s, r), await _zone(req, s, r)
        per = {"instances": 1, "cores": flavor.vcpus, "ram": flavor.memory_mb}
        count = await quotas.allowed_count(
            st, s, ctx.project_id or "", per,
            min_count=r.min_count, max_count=r.max_count, limits=limits,
        )  # fmt: skip
        common = _common(r, flavor, image, zone[0], group, networks=networks)
        common["key_data"] = key_data
        common["config_drive"] = r.config_drive or st.settings.force_config_drive
        instances = _instances(req, r, count, common)
        s.add_all(instances)
        s.add_all(
            InstanceAction(
                instance_id=i.id,
                request_id=ctx.request_id,
                action="create",
                project_id=i.project_id,
                user_id=i.user_id,
            )
            for i in instances
        )
    found = Resolved(flavor, image, group, zone)
    return instances, found.spec([i.id for i in instances], r, ctx.project_id or "")


async def _cast_build(
    st: ComputeApiState, req: ApiRequest, instances: list[Instance], spec: RequestSpec
) -> None:
    ctx = req.ctx
    msg = BuildServers(
        instance_ids=spec.instance_ids,
        request_spec=spec,
        request_id=ctx.request_id,
        user_id=ctx.user_id or "",
        project_id=ctx.project_id or "",
    )
    try:
        await st.bus.cast(CONDUCTOR_TOPIC, msg)
    except BusUnavailable as exc:
        fault = {"code": 500, "message": "The conductor could not be reached.", "details": str(exc)}
        async with st.db.session() as s:
            await s.execute(
                sa.update(Instance)
                .where(Instance.id.in_(spec.instance_ids))
                .values(vm_state=VmState.ERROR, task_state=None, fault=fault)
            )
        raise Unavailable("compute.conductor.unavailable", str(exc)) from None


@routes.route("POST", "/v2.1/servers", rule=WRITE)
async def create_server(req: ApiRequest) -> Response:
    st = state_of(req)
    data = await req.json()
    body = await body_of(req, "server")
    r = parse(data, body, version_of(req).minor, st.settings.max_user_data_bytes)
    instances, spec = await _write(req, r)
    await _cast_build(st, req, instances, spec)
    first = instances[0]
    if r.return_reservation_id:
        return json_response({"reservation_id": first.reservation_id}, status=202)
    view = {
        "id": first.id,
        "links": links(req, "servers", first.id),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": n} for n in r.security_groups],
        "adminPass": r.admin_pass or secrets.token_urlsafe(9),
    }
    location = links(req, "servers", first.id)[0]["href"]
    return json_response({"server": view}, status=202, headers={"Location": location})

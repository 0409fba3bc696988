"""``conductor.instance_metadata``: the typed record a guest's metadata is rendered from.

Reads live with the conductor (as the console does), so the metadata service holds no
database credentials. Deleted instances are not found: a guest that outlived its record
learns nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.errors import NotFound
from stratus.compute.api.host_zones import host_zones
from stratus.compute.conductor.state import Conductor
from stratus.compute.conductor_rpc import GetInstanceMetadata
from stratus.compute.metadata.record import BlockDevice, InstanceMetadata, MetadataPort
from stratus.compute.models import Instance
from stratus.compute.states import VmState
from stratus.network.binding_rpc import BoundPort

ROOT_DEVICE = "/dev/vda"  # virtio-blk, as the QEMU driver attaches the root disk


async def instance_metadata(c: Conductor, msg: GetInstanceMetadata) -> InstanceMetadata:
    async with c.db.session() as s:
        inst = await s.scalar(select(Instance).where(Instance.id == msg.instance_id))
        if inst is None or inst.vm_state == VmState.DELETED or inst.deleted_at is not None:
            raise NotFound("compute.instance.not_found", f"instance {msg.instance_id} not found")
        return await current_record(s, inst)


async def current_record(s: AsyncSession, inst: Instance) -> InstanceMetadata:
    """The record with the zone the API shows: the host's, else the one asked for."""
    zones = await host_zones(s, [inst.host]) if inst.host else {}
    return record_of(inst, zones.get(inst.host or "", inst.availability_zone or ""))


def record_of(inst: Instance, zone: str) -> InstanceMetadata:
    flavor: dict[str, Any] = inst.flavor or {}
    return InstanceMetadata(
        uuid=inst.id,
        name=inst.name,
        hostname=inst.hostname,
        project_id=inst.project_id,
        availability_zone=zone,
        launch_index=inst.launch_index,
        reservation_id=inst.reservation_id,
        key_name=inst.key_name,
        public_key=inst.key_data,
        user_data=inst.user_data,
        metadata=dict(inst.metadata_ or {}),
        image_id=inst.image_ref,
        flavor_name=str(flavor.get("name", "")),
        security_groups=list(inst.security_groups or []),
        ports=bound_ports_of(inst) or ports_of(inst.addresses or {}),
        block_devices=block_devices_of(flavor),
        config_drive=inst.config_drive,
        created_at=inst.created_at,
    )


def bound_ports_of(inst: Instance) -> list[MetadataPort]:
    """The ports the network service bound (with ids and MTU), floating IPs from
    ``addresses``."""
    floating = {p.mac: p.floating_ips for p in ports_of(inst.addresses or {})}
    return [
        MetadataPort(
            mac=p.mac_address, network_name=p.network_name, port_id=p.port_id, mtu=p.mtu,
            fixed_ips=[a.ip_address for a in p.addresses],
            floating_ips=floating.get(p.mac_address, []),
        )
        for p in (BoundPort.model_validate(d) for d in inst.network_info or [])
    ]  # fmt: skip


def ports_of(addresses: dict[str, Any]) -> list[MetadataPort]:
    """One port per MAC from Nova's ``addresses`` (network name -> address entries)."""
    ports: dict[str, MetadataPort] = {}
    for network, entries in addresses.items():
        for entry in entries if isinstance(entries, list) else []:
            mac = str(entry.get("OS-EXT-IPS-MAC:mac_addr", ""))
            port = ports.setdefault(mac, MetadataPort(mac=mac, network_name=network))
            kind = entry.get("OS-EXT-IPS:type", "fixed")
            target = port.floating_ips if kind == "floating" else port.fixed_ips
            target.append(str(entry.get("addr", "")))
    return list(ports.values())


def block_devices_of(flavor: dict[str, Any]) -> list[BlockDevice]:
    """Nova's EC2 mapping for local disks: root, then ephemeral, then swap (virtio)."""
    devices = [BlockDevice(name="ami", device="vda"), BlockDevice(name="root", device=ROOT_DEVICE)]
    letters = iter("bcdefgh")
    if int(flavor.get("ephemeral_gb", 0) or 0) > 0:
        devices.append(BlockDevice(name="ephemeral0", device=f"vd{next(letters)}"))
    if int(flavor.get("swap_mb", 0) or 0) > 0:
        devices.append(BlockDevice(name="swap", device=f"vd{next(letters)}"))
    return devices

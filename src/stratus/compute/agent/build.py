"""Build and destroy on this host, answering with ``InstanceEvent`` casts."""

from __future__ import annotations

import base64
import binascii
import logging

from stratus.common.context import RequestContext
from stratus.compute import rpc
from stratus.compute.agent.host import AgentHost
from stratus.compute.agent.image_locator import with_image_data
from stratus.compute.states import PowerState
from stratus.compute.virt.driver import (
    DriverError,
    FlavorSpec,
    ImageSpec,
    InstanceSpec,
    PortSpec,
)
from stratus.network.binding_rpc import tap_name

log = logging.getLogger(__name__)


def instance_spec(msg: rpc.Instance) -> InstanceSpec:
    """The driver's frozen view of what the conductor sent."""
    f, img = msg.flavor, msg.image
    image = None
    if img is not None:
        image = ImageSpec(
            id=img.id, disk_format=img.disk_format, container_format=img.container_format,
            size=img.size, checksum=img.checksum, properties=dict(img.properties),
            download_url=img.download_url, download_token=img.download_token,
        )  # fmt: skip
    ports = tuple(
        PortSpec(port_id=p.port_id, mac=p.mac, fixed_ips=tuple(p.fixed_ips),
                 vif_type=p.vif_type, vif_details=dict(p.vif_details),
                 device=p.device or tap_name(p.port_id))
        for p in msg.ports
    )  # fmt: skip
    return InstanceSpec(
        id=msg.id, name=msg.name, hostname=msg.hostname, project_id=msg.project_id,
        flavor=FlavorSpec(name=f.name, vcpus=f.vcpus, memory_mb=f.memory_mb,
                          root_gb=f.root_gb, ephemeral_gb=f.ephemeral_gb,
                          swap_mb=f.swap_mb, extra_specs=dict(f.extra_specs)),
        image=image, ports=ports, key_data=msg.key_data,
        user_data=_user_data(msg.user_data), metadata=dict(msg.metadata),
        drive_metadata=msg.drive_metadata,
    )  # fmt: skip


def _user_data(encoded: str | None) -> bytes | None:
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise DriverError("user data is not valid base64") from None


def instance_event(
    agent: AgentHost, instance_id: str, event: rpc.Event, power: PowerState, **extra: object
) -> rpc.InstanceEvent:
    """What this host tells the conductor about an instance."""
    return rpc.InstanceEvent(
        instance_id=instance_id, host=agent.host, event=event, power_state=int(power),
        **extra,
    )  # fmt: skip


async def build(agent: AgentHost, ctx: RequestContext, msg: rpc.BuildInstance) -> None:
    iid = msg.instance.id
    async with agent.lock(iid):
        try:
            spec = await with_image_data(agent, instance_spec(msg.instance))
            await agent.driver.spawn(spec)
        except Exception as exc:  # a driver's bug must fail the build, never leave it hanging
            if isinstance(exc, DriverError):
                log.warning("%s: build of %s failed (attempt %d): %s", agent.host, iid,
                            msg.attempt, exc)  # fmt: skip
                fault = str(exc)
            else:
                log.exception("%s: build of %s failed unexpectedly", agent.host, iid)
                fault = f"Unexpected error while building the instance: {exc!r}"
            await agent.driver.destroy(iid)  # leave nothing half-built behind
            failed = instance_event(agent, iid, rpc.Event.BUILD_FAILED, PowerState.NOSTATE,
                            fault=fault)  # fmt: skip
            await agent.emit(failed, ctx)
            agent.forget(iid)
            return
        waits = agent.driver.capabilities.wait_for_ports and bool(spec.ports)
        built = instance_event(agent, iid, rpc.Event.BUILT, await agent.power_of(iid),
                       wait_for_ports=waits)  # fmt: skip
        await agent.emit(built, ctx)


async def destroy(agent: AgentHost, ctx: RequestContext, msg: rpc.DestroyInstance) -> None:
    iid = msg.instance_id
    async with agent.lock(iid):
        await agent.driver.destroy(iid)
        await agent.emit(instance_event(agent, iid, rpc.Event.DESTROYED, PowerState.NOSTATE), ctx)
    agent.forget(iid)

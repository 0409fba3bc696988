"""What a hypervisor driver is: one small Protocol, optional capabilities as others.

Everything a driver is given is a plain frozen dataclass built by the agent from an RPC
message; a driver never sees ORM rows, sessions or the bus. Methods are idempotent where
a retry is natural (``destroy`` of a gone instance succeeds). Failures raise
``DriverError`` with a message fit for the instance fault the user sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from stratus.compute.metadata.record import InstanceMetadata
from stratus.compute.states import PowerState


class DriverError(Exception):
    """The hypervisor could not do it; the message ends up in the instance fault."""


@dataclass(frozen=True, slots=True)
class FlavorSpec:
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageSpec:
    id: str
    disk_format: str
    container_format: str
    size: int
    checksum: str | None
    properties: Mapping[str, str] = field(default_factory=dict)
    # where the agent may fetch the data: the image API's ``/v2/images/{id}/file`` URL
    # with a token valid for this build
    download_url: str = ""
    download_token: str = ""
    # download URLs of the images this one names (its kernel_id and ramdisk_id)
    related_urls: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A network port bound to this host (filled in once the network service exists)."""

    port_id: str
    mac: str
    fixed_ips: tuple[str, ...] = ()
    vif_type: str = ""
    vif_details: Mapping[str, str] = field(default_factory=dict)
    device: str = ""  # tap device name the data plane expects


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    id: str
    name: str
    hostname: str
    project_id: str
    flavor: FlavorSpec
    image: ImageSpec | None
    ports: tuple[PortSpec, ...] = ()
    key_data: str | None = None
    user_data: bytes | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    # set when the instance has a config drive: pass to ``build_config_drive``
    drive_metadata: InstanceMetadata | None = None


@dataclass(frozen=True, slots=True)
class HostResources:
    """What the host offers, reported to the scheduler."""

    hypervisor_type: str  # "fake", "QEMU", "KVM"
    hypervisor_hostname: str
    vcpus: int
    memory_mb: int
    local_gb: int
    cpu_arch: str = "x86_64"
    hypervisor_version: int = 1


@dataclass(frozen=True, slots=True)
class Capabilities:
    snapshot: bool = False
    resize: bool = False
    live_migration: bool = False
    console_output: bool = True
    # spawn needs the image's bytes: the agent locates the image (formats, size, checksum
    # and a download URL with a ticket) before it calls spawn
    image_data: bool = False
    # spawn makes a tap per port (``PortSpec.device``) that the host's network agent
    # plugs: the conductor keeps the server in BUILD until the network service reports
    # every port ACTIVE (Nova's network-vif-plugged)
    wait_for_ports: bool = False


@runtime_checkable
class Driver(Protocol):
    name: str
    capabilities: Capabilities

    async def start(self) -> None:
        """Prepare (probe the hypervisor); called once before anything else."""
        ...

    async def host_resources(self) -> HostResources: ...

    async def instances(self) -> Mapping[str, PowerState]:
        """Every instance this host runs, by id, with its power state right now (the
        agent's power sync compares this with what the conductor believes)."""
        ...

    async def spawn(self, spec: InstanceSpec) -> None: ...

    async def destroy(self, instance_id: str) -> None:
        """Remove the instance and everything it had on the host; a gone one is fine."""
        ...

    async def reboot(self, instance_id: str, *, hard: bool) -> None: ...

    async def power_off(self, instance_id: str, *, grace: float) -> None:
        """A clean shutdown, then a hard one after ``grace`` seconds."""
        ...

    async def power_on(self, instance_id: str) -> None: ...

    async def pause(self, instance_id: str) -> None: ...

    async def unpause(self, instance_id: str) -> None: ...

    async def suspend(self, instance_id: str) -> None: ...

    async def resume(self, instance_id: str) -> None: ...

    async def console_output(self, instance_id: str, length: int | None) -> str:
        """The last ``length`` lines of the serial console (all of it when None)."""
        ...


@runtime_checkable
class Snapshotting(Protocol):
    async def snapshot(self, instance_id: str, target_path: str, *, disk_format: str) -> str:
        """Write the instance's disk as an image file at ``target_path``, in
        ``disk_format`` (the source image's, as Nova keeps it) if the driver can; return
        the format written (``qcow2``, ``raw``...). The agent uploads it to the image
        service and deletes the file."""
        ...


@runtime_checkable
class Resizing(Protocol):
    """Cold resize on the instance's own host (a move to another host is a new build)."""

    async def resize(self, spec: InstanceSpec) -> None:
        """Apply ``spec.flavor`` to a stopped instance, keeping what ``revert_resize``
        needs until ``confirm_resize``; a second call before either changes nothing more."""
        ...

    async def confirm_resize(self, instance_id: str) -> None:
        """Drop what ``resize`` kept (idempotent)."""
        ...

    async def revert_resize(self, instance_id: str) -> None:
        """Back to the disks and flavor from before ``resize``; the instance is stopped."""
        ...


@runtime_checkable
class LiveMigrating(Protocol):
    async def migrate_out(self, instance_id: str, destination: str) -> None: ...

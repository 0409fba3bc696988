"""Compute's RPC messages between the API, the conductor and the compute agents.

Agents hold no DB credentials (DESIGN.md §1): everything they need arrives in a message
(``BuildInstance`` carries the whole ``InstanceSpec``), and everything they learn goes
back to the conductor as ``InstanceEvent`` or ``HostReport``, which alone writes the
instance table. This module must not import the SQL layer (import-linter contract).

Topics: ``conductor`` (load-balanced over conductors), ``compute`` with ``host=`` (one
agent), ``scheduler`` (see ``stratus.scheduler.rpc``).
"""

from __future__ import annotations

import enum
from typing import ClassVar

from pydantic import BaseModel, Field

from stratus.common.rpc import Call, Cast
from stratus.compute.metadata.record import InstanceMetadata

CONDUCTOR_TOPIC = "conductor"
AGENT_TOPIC = "compute"


class Flavor(BaseModel):
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: dict[str, str] = Field(default_factory=dict)


class Image(BaseModel):
    id: str
    disk_format: str
    container_format: str
    size: int
    checksum: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    download_url: str = ""
    download_token: str = ""


class Port(BaseModel):
    port_id: str
    mac: str
    fixed_ips: list[str] = Field(default_factory=list)
    vif_type: str = ""
    vif_details: dict[str, str] = Field(default_factory=dict)
    device: str = ""


class Instance(BaseModel):
    """What an agent needs to build an instance (``virt.driver.InstanceSpec`` on the wire)."""

    id: str
    name: str
    hostname: str
    project_id: str
    flavor: Flavor
    image: Image | None = None
    ports: list[Port] = Field(default_factory=list)
    key_data: str | None = None
    user_data: str | None = None  # base64
    metadata: dict[str, str] = Field(default_factory=dict)
    # set when the instance has a config drive: what to put on it (metadata.config_drive)
    drive_metadata: InstanceMetadata | None = None


# ---- conductor → agent ---------------------------------------------------------------


class BuildInstance(Cast):
    wire_name: ClassVar[str] = "compute.build_instance"
    instance: Instance
    attempt: int = 1


class Power(enum.StrEnum):
    REBOOT = "reboot"
    REBOOT_HARD = "reboot_hard"
    STOP = "stop"
    START = "start"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SUSPEND = "suspend"
    RESUME = "resume"


class PowerAction(Cast):
    wire_name: ClassVar[str] = "compute.power_action"
    instance_id: str
    action: Power


class DestroyInstance(Cast):
    """Remove an instance from this host (idempotent: the agent acknowledges a gone one)."""

    wire_name: ClassVar[str] = "compute.destroy_instance"
    instance_id: str


class ResizeInPlace(Cast):
    """Cold resize on the instance's own host: stop it, apply ``instance.flavor`` to its
    disks (the driver keeps the old ones for a revert) and start it again if
    ``power_on``. Answered with ``BUILT`` or ``BUILD_FAILED``, as a build elsewhere is."""

    wire_name: ClassVar[str] = "compute.resize_in_place"
    instance: Instance
    power_on: bool = True


class FinishResizeInPlace(Cast):
    """Confirm (drop the copy a resize in place kept) or revert (stop, restore the old
    disks and flavor, start again if ``power_on``). Answered with ``ACTION_DONE`` or
    ``ACTION_FAILED``."""

    wire_name: ClassVar[str] = "compute.finish_resize_in_place"
    instance_id: str
    revert: bool
    power_on: bool = True


class LiveMigrateInstance(Cast):
    """Move a running instance to ``destination`` (the driver's ``migrate_out``)."""

    wire_name: ClassVar[str] = "compute.live_migrate_instance"
    instance_id: str
    destination: str


class SnapshotInstance(Cast):
    """Write the instance's disk into the queued image ``image_id`` the API created.

    The agent asks the driver for ``disk_format`` (the source image's), uploads the file
    to ``image_url`` (the image service, Glance v2) with ``token``, the token of the user
    who asked: it may do no more than that user may (docs/architecture.md). The token is
    kept out of ``repr`` and must never be logged.
    """

    wire_name: ClassVar[str] = "compute.snapshot_instance"
    instance_id: str
    image_id: str
    image_url: str
    disk_format: str
    container_format: str = "bare"
    token: str = Field(repr=False)


class ConsoleOutput(BaseModel):
    output: str


class GetConsoleOutput(Call[ConsoleOutput]):
    wire_name: ClassVar[str] = "compute.get_console_output"
    instance_id: str
    length: int | None = None


# ---- agent → conductor ---------------------------------------------------------------


class Event(enum.StrEnum):
    BUILT = "built"
    BUILD_FAILED = "build_failed"
    ACTION_DONE = "action_done"
    ACTION_FAILED = "action_failed"
    DESTROYED = "destroyed"
    POWER_CHANGED = "power_changed"  # the power sync found the hypervisor disagrees
    MIGRATED = "migrated"  # live migration done: the instance runs on the destination
    # create image: the disk is written (image_pending_upload), its upload starts
    # (image_uploading), the image is active, or the snapshot failed (image deleted)
    SNAPSHOT_TAKEN = "snapshot_taken"
    IMAGE_UPLOADING = "image_uploading"
    IMAGE_UPLOADED = "image_uploaded"
    SNAPSHOT_FAILED = "snapshot_failed"


class InstanceEvent(Cast):
    wire_name: ClassVar[str] = "conductor.instance_event"
    instance_id: str
    host: str
    event: Event
    power_state: int
    action: Power | None = None
    fault: str | None = None  # what went wrong, for the instance fault
    # BUILT: the driver made taps the network agent plugs; ACTIVE once every port is
    wait_for_ports: bool = False


class HostResources(BaseModel):
    hypervisor_type: str
    hypervisor_hostname: str
    hypervisor_version: int = 1
    cpu_arch: str = "x86_64"
    vcpus: int
    memory_mb: int
    local_gb: int


class HostReport(Cast):
    """Sent at start and every report interval: the host, its resources and the power
    state of every instance it runs (the conductor reconciles, and destroys instances
    deleted while the agent was down through ``DestroyInstance``)."""

    wire_name: ClassVar[str] = "conductor.host_report"
    host: str
    resources: HostResources
    instances: dict[str, int] = Field(default_factory=dict)  # id -> power state

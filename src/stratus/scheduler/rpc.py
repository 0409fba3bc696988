"""The scheduler's RPC: the conductor asks where to put instances; the scheduler claims.

A claim reserves the resources on the chosen host at once (in the scheduler's host
state), so two concurrent requests never overbook a host; the conductor releases a
claim when a build fails or an instance is deleted. When nothing fits, the answer says
which filter removed how many hosts, in order, instead of Nova's bare "No valid host".
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from stratus.common.rpc import Call, Cast

SCHEDULER_TOPIC = "scheduler"


class RequestSpec(BaseModel):
    instance_ids: list[str]  # one claim per instance (min_count..max_count)
    project_id: str
    vcpus: int
    memory_mb: int
    disk_gb: int  # root + ephemeral + swap (GiB, rounded up)
    availability_zone: str | None = None
    image_properties: dict[str, str] = Field(
        default_factory=dict
    )  # architecture, hypervisor_type...
    flavor_extra_specs: dict[str, str] = Field(default_factory=dict)
    server_group_id: str | None = None  # lets concurrent requests of one group see each other
    server_group_policy: str | None = None  # affinity, anti-affinity, soft-affinity...
    server_group_hosts: list[str] = Field(default_factory=list)  # members' hosts now
    ignore_hosts: list[str] = Field(default_factory=list)  # hosts a retry must avoid
    force_host: str | None = None  # admin: availability_zone "nova:host"
    min_count: int = 1


class FilterReport(BaseModel):
    """One filter's pass: ``hosts_in`` hosts went in, ``hosts_out`` came out (passed)."""

    name: str
    hosts_in: int
    hosts_out: int


class Selection(BaseModel):
    """Hosts chosen (one per instance, in order) or, if none fit, why."""

    hosts: dict[str, str] = Field(default_factory=dict)  # instance id -> host
    filters: list[FilterReport] = Field(default_factory=list)
    reason: str | None = None  # set when ``hosts`` is empty: the per-filter explanation


class SelectHosts(Call[Selection]):
    wire_name: ClassVar[str] = "scheduler.select_hosts"
    spec: RequestSpec


class ReleaseClaim(Cast):
    wire_name: ClassVar[str] = "scheduler.release_claim"
    instance_id: str
    host: str


class ClaimAnswer(BaseModel):
    claimed: bool


class ResizeClaim(Call[ClaimAnswer]):
    """A resize on the instance's own host: what it holds there becomes these amounts.
    Growing needs room under the allocation ratios; shrinking always fits."""

    wire_name: ClassVar[str] = "scheduler.resize_claim"
    instance_id: str
    host: str
    vcpus: int
    memory_mb: int
    disk_gb: int


class HostsChanged(Cast):
    """Aggregates or compute services changed (os-aggregates, os-services delete): reload
    the host view now instead of at the next refresh. Sent with ``fanout``, to every
    scheduler."""

    wire_name: ClassVar[str] = "scheduler.hosts_changed"

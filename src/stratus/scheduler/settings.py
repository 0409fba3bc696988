"""Scheduler settings: allocation ratios, weigher multipliers, refresh and liveness."""

from __future__ import annotations

from pydantic import Field

from stratus.common.config import Section


class SchedulerSettings(Section):
    cpu_allocation_ratio: float = Field(
        default=16.0, gt=0, description="Virtual CPUs per physical CPU a host may carry."
    )
    ram_allocation_ratio: float = Field(
        default=1.5, gt=0, description="Guest RAM per MiB of host RAM a host may carry."
    )
    disk_allocation_ratio: float = Field(
        default=1.0, gt=0, description="Guest disk per GiB of host disk a host may carry."
    )
    ram_weight_multiplier: float = Field(
        default=1.0, description="Positive: spread by free RAM; negative: pack (fill hosts)."
    )
    cpu_weight_multiplier: float = Field(
        default=1.0, description="Positive: spread by free vCPUs; negative: pack."
    )
    disk_weight_multiplier: float = Field(
        default=1.0, description="Positive: spread by free disk; negative: pack."
    )
    soft_affinity_weight_multiplier: float = Field(
        default=1.0, ge=0, description="Pull of a soft-affinity group's hosts."
    )
    soft_anti_affinity_weight_multiplier: float = Field(
        default=1.0, ge=0, description="Push away from a soft-anti-affinity group's hosts."
    )
    host_subset_size: int = Field(
        default=1,
        ge=1,
        description="Pick at random among this many best hosts (ties at the top are "
        "always broken at random), so concurrent schedulers collide less.",
    )
    service_down_time: float = Field(
        default=60.0, gt=0, description="A host whose agent is unheard this long is down."
    )
    refresh_interval: float = Field(
        default=10.0, gt=0, description="Seconds between reloads of host state from the DB."
    )
    reload_on_miss_after: float = Field(
        default=1.0,
        ge=0,
        description="When no host fits and the view is older than this (seconds), reload "
        "it once before answering, so a host that registered a moment ago counts.",
    )
    compute_binaries: list[str] = Field(
        default_factory=lambda: ["stratus-compute-agent"],
        description="Registry service names of compute agents: a host whose record is "
        "disabled or forced down there (os-services) gets no new instances.",
    )
    claim_attempts: int = Field(
        default=5,
        ge=1,
        description="Hosts tried per instance when another scheduler filled the best one.",
    )

"""Service registry settings."""

from __future__ import annotations

from pydantic import Field

from stratus.common.config import Section


class RegistrySettings(Section):
    database_url: str = Field(default="", description="Overrides [database].url for the registry.")
    heartbeat_interval: float = Field(
        default=10.0, gt=0, description="Seconds between a service's heartbeats."
    )
    down_after: float = Field(
        default=60.0, gt=0, description="A service unheard for this long is reported down."
    )

"""The registry's RPC messages: heartbeats in, service listings and state changes out."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel, Field

from stratus.common.rpc import Call, Cast

TOPIC = "registry"


class Heartbeat(Cast):
    """``binary`` on ``host`` is alive; sent every ``heartbeat_interval`` seconds."""

    wire_name: ClassVar[str] = "registry.heartbeat"
    version: ClassVar[int] = 1
    host: str = Field(min_length=1, max_length=255)
    binary: str = Field(min_length=1, max_length=255)  # e.g. stratus-compute-agent
    topic: str = Field(default="", max_length=255)
    # The software version running ("version" names the message format, see Message).
    software_version: str = Field(default="", max_length=64)


class ServiceInfo(BaseModel):
    """One service on one host, as the registry sees it."""

    id: str
    host: str
    binary: str
    topic: str
    version: str
    disabled: bool
    disabled_reason: str | None
    forced_down: bool
    report_count: int
    created_at: dt.datetime
    last_seen: dt.datetime
    up: bool  # heard from within ``down_after`` seconds and not forced down


class ServiceList(BaseModel):
    services: list[ServiceInfo]


class ListServices(Call[ServiceList]):
    """Every known service, optionally only those of one host and/or binary."""

    wire_name: ClassVar[str] = "registry.list_services"
    version: ClassVar[int] = 1
    host: str | None = None
    binary: str | None = None


class SetServiceState(Call[ServiceInfo]):
    """Disable/enable a service or force it down; unset fields are left as they are.

    Enabling a service clears its disabled reason unless a new one is given.
    Unknown host/binary: ``registry.service.not_found``.
    """

    wire_name: ClassVar[str] = "registry.set_service_state"
    version: ClassVar[int] = 1
    host: str
    binary: str
    disabled: bool | None = None
    disabled_reason: str | None = Field(default=None, max_length=255)
    forced_down: bool | None = None


class DeleteService(Call[ServiceInfo]):
    """Forget a service (os-services delete); the reply is the record as it was.

    A service still running registers again with its next heartbeat, as in Nova.
    Unknown host/binary: ``registry.service.not_found``.
    """

    wire_name: ClassVar[str] = "registry.delete_service"
    version: ClassVar[int] = 1
    host: str
    binary: str

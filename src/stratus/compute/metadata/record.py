"""The typed record of one instance that every metadata format is rendered from.

The conductor builds it from compute's tables (``conductor.instance_metadata``); the
metadata service and the config drive only render it, so neither reads a database. No
SQL import here (import-linter contract).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class MetadataPort(BaseModel):
    """One network interface of the instance, as far as compute knows it.

    Built from the instance's ``addresses`` (Nova's shape: one entry per address, with
    its MAC), so ``port_id`` and ``mtu`` stay empty until the network service answers for
    ports over RPC.
    """

    mac: str
    network_name: str = ""
    port_id: str = ""
    mtu: int | None = None
    fixed_ips: list[str] = Field(default_factory=list)
    floating_ips: list[str] = Field(default_factory=list)


class BlockDevice(BaseModel):
    """An EC2 ``block-device-mapping`` entry: ``ami``, ``root``, ``ephemeral0``, ``swap``."""

    name: str
    device: str


class InstanceMetadata(BaseModel):
    uuid: str
    name: str
    hostname: str
    project_id: str
    availability_zone: str = ""
    launch_index: int = 0
    reservation_id: str = ""
    key_name: str | None = None
    public_key: str | None = None
    user_data: str | None = None  # base64, as the API took it
    metadata: dict[str, str] = Field(default_factory=dict)
    image_id: str = ""
    flavor_name: str = ""
    security_groups: list[str] = Field(default_factory=list)
    ports: list[MetadataPort] = Field(default_factory=list)
    block_devices: list[BlockDevice] = Field(default_factory=list)
    config_drive: bool = False
    created_at: dt.datetime | None = None

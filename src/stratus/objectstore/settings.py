"""Object store settings: the proxy, the three backend servers, devices and rings."""

from __future__ import annotations

import os

from pydantic import Field

from stratus.common.config import Section

PROXY_PORT = 8080  # the Swift API (and later S3): the port client files name by default

# Service name -> the settings field holding its port (``stratus serve <name>``).
PORT_FIELDS = {
    "object-store": "proxy_port",
    "object-server": "object_port",
    "container-server": "container_port",
    "account-server": "account_port",
}


class ObjectStoreSettings(Section):
    proxy_port: int = Field(
        default=PROXY_PORT, ge=1, le=65535, description="Port of the Swift API (the proxy)."
    )
    object_port: int = Field(
        default=6200,
        ge=0,
        le=65535,
        description="Port of the backend object server; "
        "0 picks a free one (all-in-one only, where the rings are rebuilt to match).",
    )
    container_port: int = Field(
        default=6201, ge=0, le=65535, description="Port of the backend container server (0: any)."
    )
    account_port: int = Field(
        default=6202, ge=0, le=65535, description="Port of the backend account server (0: any)."
    )
    devices_root: str = Field(
        default="",
        description="Directory holding one directory per device. "
        "Default: <state_dir>/objectstore/devices.",
    )
    ring_dir: str = Field(
        default="",
        description="Directory of account.ring, container.ring and object.ring (built with "
        "'stratus ring'; 'stratus up' builds them). Default: <state_dir>/objectstore/rings.",
    )
    replicas: int = Field(default=3, ge=1, le=8, description="Replicas (all-in-one rings).")
    devices: int = Field(default=4, ge=1, le=64, description="Devices (all-in-one rings).")
    part_power: int = Field(default=8, ge=1, le=22, description="Part power (all-in-one rings).")
    workers: int = Field(
        default=-1,
        ge=-1,
        le=64,
        description="Processes 'stratus up' runs the object, container and account servers "
        "in (each serves all three on the shared ports); 0: inside the main process; "
        "-1: one per core, at least 2 and at most 4.",
    )
    fsync: bool = Field(default=True, description="fsync objects and databases before success.")
    direct_io: bool = Field(
        default=False,
        description="Write object bodies larger than one buffer with O_DIRECT, around the page "
        "cache, where the filesystem allows it: far less CPU per byte written, but a "
        "virtualised disk's host then holds none of it (docs/performance.md).",
    )
    ring_check_interval: float = Field(
        default=15.0, gt=0, description="Seconds between checks of the ring files for changes."
    )
    replicator_interval: float = Field(
        default=30.0, gt=0, description="Seconds between the starts of two replication passes."
    )
    reclaim_age: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Seconds a tombstone is kept (so every replica learns of the delete) "
        "before replication forgets it.",
    )
    auditor_interval: float = Field(
        default=300.0, gt=0, description="Seconds between the starts of two auditor passes."
    )
    auditor_bytes_per_second: int = Field(
        default=20_000_000, gt=0, description="Read rate cap of the auditor, per device."
    )
    updater_interval: float = Field(
        default=30.0, gt=0, description="Seconds between passes over the async pendings."
    )
    expirer_interval: float = Field(
        default=60.0, gt=0, description="Seconds between passes over expiring objects."
    )

    def storage_workers(self) -> int:
        """The worker processes ``stratus up`` starts for the storage servers."""
        if self.workers >= 0:
            return self.workers
        # at least 2 even on small machines: a process waits on fsyncs and SQLite commits in
        # its threads, and two of them overlapped those waits (docs/performance.md)
        return max(2, min(4, os.cpu_count() or 1))

    def port_of(self, service: str) -> int:
        return int(getattr(self, PORT_FIELDS[service]))

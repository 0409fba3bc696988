"""An instance's spec on disk (``spec.json``): what a new agent needs to adopt it.

Written at spawn and after a resize; read back at driver start, so a restarted agent
can power on, snapshot or destroy an instance it did not create itself.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from stratus.compute.metadata.record import InstanceMetadata
from stratus.compute.virt.driver import FlavorSpec, ImageSpec, InstanceSpec, PortSpec


def save(spec: InstanceSpec, path: Path) -> None:
    data = dataclasses.asdict(spec)
    # the token is for this build only: it is not kept on disk
    if data["image"] is not None:
        data["image"]["download_token"] = ""
    if spec.user_data is not None:
        data["user_data"] = base64.b64encode(spec.user_data).decode()
    if spec.drive_metadata is not None:
        data["drive_metadata"] = spec.drive_metadata.model_dump(mode="json")
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)


def load(path: Path) -> InstanceSpec:
    data: dict[str, Any] = json.loads(path.read_text())
    image = data["image"]
    user_data = data.get("user_data")
    drive = data.get("drive_metadata")
    return InstanceSpec(
        id=data["id"], name=data["name"], hostname=data["hostname"],
        project_id=data["project_id"], flavor=FlavorSpec(**data["flavor"]),
        image=ImageSpec(**image) if image is not None else None,
        ports=tuple(PortSpec(**{**p, "fixed_ips": tuple(p["fixed_ips"])}) for p in data["ports"]),
        key_data=data.get("key_data"),
        user_data=base64.b64decode(user_data) if user_data is not None else None,
        metadata=data.get("metadata", {}),
        drive_metadata=InstanceMetadata.model_validate(drive) if drive else None,
    )  # fmt: skip

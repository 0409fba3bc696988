"""An image as Glance shows it: fixed attributes, tags, then free properties top-level."""

from __future__ import annotations

import datetime as dt
from typing import Any

from stratus.image import models as m


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_view(image: m.Image, tags: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(image.properties or {})
    stores = ",".join(loc["store"] for loc in image.locations or [])
    out.update(
        {
            "id": image.id,
            "name": image.name,
            "status": image.status,
            "visibility": image.visibility,
            "protected": image.protected,
            "os_hidden": image.os_hidden,
            "owner": image.owner,
            "checksum": image.checksum,
            "os_hash_algo": image.os_hash_algo,
            "os_hash_value": image.os_hash_value,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "created_at": iso(image.created_at),
            "updated_at": iso(image.updated_at),
            "tags": sorted(tags),
            "self": f"/v2/images/{image.id}",
            "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image",
        }
    )
    if stores:
        out["stores"] = stores
    return out


def member_view(member: m.ImageMember) -> dict[str, Any]:
    return {
        "image_id": member.image_id,
        "member_id": member.member,
        "status": member.status,
        "created_at": iso(member.created_at),
        "updated_at": iso(member.updated_at),
        "schema": "/v2/schemas/member",
    }

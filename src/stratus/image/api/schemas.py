"""``/v2/schemas/...``: the JSON schemas clients read to know the image attributes."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.image.access import VISIBILITIES
from stratus.image.api.common import READ
from stratus.image.formats import CONTAINER_FORMATS, DISK_FORMATS

routes = Routes("image")

_STRING_OR_NULL = {"type": ["null", "string"], "maxLength": 255}
_DATE = {"type": "string", "readOnly": True, "format": "date-time"}


def _read_only(kind: Any, description: str) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description}


def image_schema() -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
               "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$", "description": "The image id"},
        "name": {**_STRING_OR_NULL, "description": "Descriptive name for the image"},
        "status": {"type": "string", "readOnly": True, "description": "Status of the image",
                   "enum": ["queued", "saving", "active", "killed", "deleted", "uploading",
                            "importing", "pending_delete", "deactivated"]},
        "visibility": {"type": "string", "enum": list(VISIBILITIES),
                       "description": "Scope of image accessibility"},
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description": "Hidden from default listings"},
        "checksum": _read_only(["null", "string"], "md5 hash of image contents."),
        "os_hash_algo": _read_only(["null", "string"], "Algorithm of os_hash_value"),
        "os_hash_value": _read_only(["null", "string"], "Hexdigest of the image contents"),
        "owner": {**_STRING_OR_NULL, "description": "Owner of the image"},
        "size": _read_only(["null", "integer"], "Size of image file in bytes"),
        "virtual_size": _read_only(["null", "integer"], "Virtual size of image in bytes"),
        "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS],
                             "description": "Format of the container"},
        "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS],
                        "description": "Format of the disk"},
        "created_at": {**_DATE, "description": "Registration time"},
        "updated_at": {**_DATE, "description": "Last modification"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
                 "description": "List of strings related to the image"},
        "self": _read_only("string", "An image self url"),
        "file": _read_only("string", "An image file url"),
        "schema": _read_only("string", "An image schema url"),
        "stores": _read_only("string", "Stores the image data is in, comma-separated"),
        "min_ram": {"type": "integer", "description": "RAM (MiB) needed to boot"},
        "min_disk": {"type": "integer", "description": "Disk (GiB) needed to boot"},
        "kernel_id": {**_STRING_OR_NULL, "description": "Kernel image id (AMI-style boot)"},
        "ramdisk_id": {**_STRING_OR_NULL, "description": "Ramdisk image id (AMI-style boot)"},
        "architecture": {"type": "string", "description": "Operating system architecture"},
        "os_distro": {"type": "string", "description": "Operating system distribution"},
        "os_version": {"type": "string", "description": "Operating system version"},
        "instance_uuid": {"type": "string", "description": "Instance this image was made from"},
    }  # fmt: skip
    return {
        "name": "image",
        "properties": props,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {**_DATE, "description": "Creation time"},
            "image_id": {"type": "string", "description": "An identifier for the image"},
            "member_id": {"type": "string", "description": "The member project id"},
            "schema": {"type": "string", "readOnly": True},
            "status": {"type": "string", "enum": ["pending", "accepted", "rejected"],
                       "description": "The status of this image member"},
            "updated_at": {**_DATE, "description": "Last modification"},
        },
    }  # fmt: skip


def _collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


@routes.route("GET", "/v2/schemas/image", rule=READ)
async def show_image_schema(req: ApiRequest) -> Response:
    return json_response(image_schema())


@routes.route("GET", "/v2/schemas/images", rule=READ)
async def show_images_schema(req: ApiRequest) -> Response:
    return json_response(_collection("images", image_schema()))


@routes.route("GET", "/v2/schemas/member", rule=READ)
async def show_member_schema(req: ApiRequest) -> Response:
    return json_response(member_schema())


@routes.route("GET", "/v2/schemas/members", rule=READ)
async def show_members_schema(req: ApiRequest) -> Response:
    return json_response(_collection("members", member_schema()))

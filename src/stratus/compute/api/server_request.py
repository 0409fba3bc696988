"""A server create body, checked field by field into a ``ServerRequest`` (Nova's 400s).

What needs the database or the image service (flavor, image, key pair, group, zone) is
resolved afterwards in ``server_create``; this module only judges the body's shape.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from stratus.compute.api.common import bad, check_unknown, is_uuid

_BASE = {
    "name",
    "imageRef",
    "flavorRef",
    "key_name",
    "user_data",
    "metadata",
    "security_groups",
    "availability_zone",
    "min_count",
    "max_count",
    "networks",
    "adminPass",
    "accessIPv4",
    "accessIPv6",
    "config_drive",
    "OS-DCF:diskConfig",
    "return_reservation_id",
    "block_device_mapping_v2",
    "personality",
}
MAX_TAGS = 50


@dataclass
class ServerRequest:
    name: str
    image_ref: str
    flavor_ref: str
    key_name: str | None = None
    user_data: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    security_groups: list[str] = field(default_factory=lambda: ["default"])
    availability_zone: str | None = None
    min_count: int = 1
    max_count: int = 1
    networks: Any = "auto"
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    hints: dict[str, Any] = field(default_factory=dict)
    admin_pass: str | None = None
    return_reservation_id: bool = False
    host: str | None = None  # 2.74, admins: build on this host
    config_drive: bool = False


def name_of(value: Any, field_name: str = "name") -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or not value.strip():
        shown = value if not isinstance(value, str) or len(value) < 80 else value[:80] + "..."
        raise bad(f"Invalid input for field/attribute {field_name}. Value: {shown}.")
    return value


def ref_of(value: Any, what: str) -> str:
    """A flavor or image reference: an id, or a URL ending in one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise bad(f"Invalid {what} provided.")
    return value.rstrip("/").rsplit("/", 1)[-1]


def user_data_of(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad("User data needs to be valid base 64.")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad("User data needs to be valid base 64.") from None
    if len(decoded) > limit:
        raise bad(
            f"User data too large. User data must be no larger than {limit} bytes "
            "once base64 decoded."
        )
    return value


def metadata_of(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad("Invalid input for field/attribute metadata. Value: not an object.")
    for key, item in value.items():
        if not 1 <= len(key) <= 255:
            raise bad(f"Invalid input for field/attribute metadata. Key: {key[:80]}.")
        if not isinstance(item, str) or len(item) > 255:
            raise bad(f"Invalid input for field/attribute {key}. Value: {item}.")
    return dict(value)


def tags_of(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise bad(f"Invalid input for field/attribute tags: at most {MAX_TAGS} tags.")
    for tag in value:
        check_tag(tag)
    return list(dict.fromkeys(value))


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not 1 <= len(tag) <= 60 or "/" in tag or "," in tag:
        raise bad(f"Invalid input for field/attribute tags. Value: {tag}.")
    return tag


def _count(body: dict[str, Any], key: str) -> int:
    value = body.get(key, 1)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad(f"Invalid input for field/attribute {key}. Value: {value}.")
    return value


def _network(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        raise bad("Invalid input for field/attribute networks.")
    check_unknown(item, {"uuid", "port", "fixed_ip", "tag"}, "networks")
    for key in ("uuid", "port"):
        if key in item and (not isinstance(item[key], str) or not is_uuid(item[key])):
            raise bad(f"Bad networks format: network uuid is not in proper format ({item[key]})")
    if "fixed_ip" in item:
        try:
            ipaddress.ip_address(item["fixed_ip"])
        except ValueError:
            raise bad(f"Invalid fixed IP address ({item['fixed_ip']})") from None
    if "uuid" not in item and "port" not in item:
        raise bad("Bad networks format: network uuid or port is required")
    return {k: str(v) for k, v in item.items()}


def networks_of(value: Any, *, required: bool) -> Any:
    if value is None:
        if required:
            raise bad("'networks' is a required property")
        return "all"  # before 2.37: the project's one network, if it has one
    if value in ("auto", "none"):
        if not required:  # before 2.37 the list is the only form
            raise bad(f"Invalid input for field/attribute networks. Value: {value}.")
        return value
    if not isinstance(value, list):
        raise bad(f"Invalid input for field/attribute networks. Value: {value}.")
    return [_network(item) for item in value]


def _hints(data: dict[str, Any]) -> dict[str, Any]:
    hints = data.get("os:scheduler_hints", data.get("OS-SCH-HNT:scheduler_hints", {}))
    if not isinstance(hints, dict):
        raise bad("Invalid input for field/attribute os:scheduler_hints.")
    group = hints.get("group")
    if group is not None and (not isinstance(group, str) or not is_uuid(group)):
        raise bad(f"Invalid input for field/attribute group. Value: {group}.")
    return hints


def _bdm_image(mappings: Any) -> str | None:
    """The image of a boot-from-image mapping list (what the CLI sends); volumes are
    refused, as no volume service backs them yet."""
    if mappings is None:
        return None
    if not isinstance(mappings, list):
        raise bad("Invalid input for field/attribute block_device_mapping_v2.")
    image = None
    for bdm in mappings:
        if not isinstance(bdm, dict) or bdm.get("destination_type", "local") != "local":
            raise bad("Block device mappings to volumes are not supported: boot from an image.")
        if bdm.get("source_type") == "image" and str(bdm.get("boot_index", "")) == "0":
            image = bdm.get("uuid")
    return image if isinstance(image, str) else None


def parse(data: Any, body: dict[str, Any], minor: int, user_data_limit: int) -> ServerRequest:
    """``data`` is the whole JSON body (hints live beside ``server``), ``body`` its server."""
    allowed = _BASE | ({"description"} if minor >= 19 else set())
    allowed |= {"tags"} if minor >= 52 else set()
    allowed |= {"host", "hypervisor_hostname"} if minor >= 74 else set()
    check_unknown(body, allowed, "server")
    for required in ("name", "flavorRef"):
        if required not in body:
            raise bad(f"'{required}' is a required property")
    image = body.get("imageRef") or _bdm_image(body.get("block_device_mapping_v2"))
    if image is None:
        raise bad("'imageRef' is a required property")
    req = ServerRequest(
        name=name_of(body["name"]),
        image_ref=ref_of(image, "imageRef"),
        flavor_ref=ref_of(body["flavorRef"], "flavorRef"),
        user_data=user_data_of(body.get("user_data"), user_data_limit),
        metadata=metadata_of(body.get("metadata", {})),
        min_count=_count(body, "min_count"),
        max_count=_count(body, "max_count"),
        networks=networks_of(body.get("networks"), required=minor >= 37),
        tags=tags_of(body.get("tags", [])),
        hints=_hints(data),
        return_reservation_id=bool(body.get("return_reservation_id", False)),
    )
    if req.min_count > req.max_count:
        raise bad("min_count must be <= max_count")
    return _optional(req, body)


def _optional(req: ServerRequest, body: dict[str, Any]) -> ServerRequest:
    if body.get("key_name") is not None:
        req.key_name = name_of(body["key_name"], "key_name")
    groups = body.get("security_groups")
    if groups is not None:
        if not isinstance(groups, list) or not all(
            isinstance(g, dict) and isinstance(g.get("name"), str) and g["name"] for g in groups
        ):
            raise bad("Invalid input for field/attribute security_groups.")
        req.security_groups = list(dict.fromkeys(g["name"] for g in groups))
    zone = body.get("availability_zone")
    if zone is not None:
        req.availability_zone = name_of(zone, "availability_zone")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise bad(f"Invalid input for field/attribute description. Value: {description}.")
    req.description = description
    admin_pass = body.get("adminPass")
    if admin_pass is not None and not isinstance(admin_pass, str):
        raise bad("Invalid input for field/attribute adminPass.")
    req.admin_pass = admin_pass
    host = body.get("host") or body.get("hypervisor_hostname")
    req.host = None if host is None else name_of(host, "host")
    req.config_drive = config_drive_of(body.get("config_drive", False))
    return req


_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}


def config_drive_of(value: Any) -> bool:
    """Nova's boolean parameter: a JSON boolean or one of its spellings as a string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise bad(f"Invalid input for field/attribute config_drive. Value: {value}.")

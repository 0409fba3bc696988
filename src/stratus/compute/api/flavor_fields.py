"""Validation of a flavor create body, field by field, with Nova's 400 messages."""

from __future__ import annotations

import re
from typing import Any

from stratus.compute.api.common import bad, check_unknown

_ID = re.compile(r"^(?! )[a-zA-Z0-9. _-]+(?<! )$")
_FIELDS = {
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "OS-FLV-EXT-DATA:ephemeral",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
    "description",
}
# body field -> (column, minimum)
_INTS = {
    "ram": ("memory_mb", 1),
    "vcpus": ("vcpus", 1),
    "disk": ("root_gb", 0),
    "OS-FLV-EXT-DATA:ephemeral": ("ephemeral_gb", 0),
    "swap": ("swap_mb", 0),
}
_INT_MAX = 2**31 - 1


def _integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or not minimum <= value <= _INT_MAX:
        raise bad(
            f"Invalid input for field/attribute {name}. Value: {value}. "
            f"It must be an integer between {minimum} and {_INT_MAX}"
        )
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or value != value.strip():
        raise bad(f"Invalid input for field/attribute name. Value: {value}.")
    return value


def _flavor_id(value: Any) -> str | None:
    if value is None or value == "auto":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > 255 or not _ID.match(value):
        raise bad(f"Invalid input for field/attribute id. Value: {value}.")
    return value


def _rxtx(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise bad(f"Invalid input for field/attribute rxtx_factor. Value: {value}.")
    return float(value)


def validate_create(body: dict[str, Any], *, with_description: bool) -> dict[str, Any]:
    """Column values of a new flavor (``id`` None: generate one)."""
    allowed = _FIELDS if with_description else _FIELDS - {"description"}
    check_unknown(body, allowed, "flavor")
    for required in ("name", "ram", "vcpus", "disk"):
        if required not in body:
            raise bad(f"'{required}' is a required property")
    out: dict[str, Any] = {"name": _name(body["name"]), "id": _flavor_id(body.get("id"))}
    for field, (column, minimum) in _INTS.items():
        out[column] = _integer(field, body.get(field, 0), minimum)
    out["rxtx_factor"] = _rxtx(body.get("rxtx_factor", 1.0))
    public = body.get("os-flavor-access:is_public", True)
    if not isinstance(public, bool):
        raise bad(f"Invalid input for field/attribute os-flavor-access:is_public. Value: {public}.")
    out["is_public"] = public
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 65535):
        raise bad("Invalid input for field/attribute description.")
    out["description"] = description
    return out

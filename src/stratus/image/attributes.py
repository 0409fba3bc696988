"""The attributes a user may set on an image, checked as Glance's schema checks them.

An image is edited as a flat document: the base attributes below plus free-form
properties, whose values are strings (``kernel_id``, ``architecture``, ``hw_*``,
``os_*``). Create takes such a document; a JSON patch edits one. Attributes the service
computes are read-only (403, as Glance answers), and bad types are 400.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from stratus.common.context import RequestContext
from stratus.common.errors import Forbidden, InvalidInput, TooLarge
from stratus.image import models as m
from stratus.image.access import VISIBILITIES
from stratus.image.formats import CONTAINER_FORMATS, DISK_FORMATS

READ_ONLY = frozenset(
    {
        "status", "checksum", "size", "virtual_size", "created_at", "updated_at", "file",
        "self", "schema", "direct_url", "locations", "os_hash_algo", "os_hash_value",
        "stores",
    }
)  # fmt: skip
RESERVED = frozenset({"deleted", "deleted_at", "location"})
BASE = (
    "name", "visibility", "protected", "os_hidden", "tags", "disk_format",
    "container_format", "min_disk", "min_ram", "owner",
)  # fmt: skip
MAX_PROPERTIES = 128
MAX_TAGS = 128
MAX_TEXT = 255
_RESERVED_PREFIX = re.compile(r"^os_glance", re.IGNORECASE)


def invalid(message: str) -> InvalidInput:
    return InvalidInput("image.invalid", message)


def document(image: m.Image, tags: list[str]) -> dict[str, Any]:
    """The editable view of an image: what a patch's paths refer to."""
    doc: dict[str, Any] = dict(image.properties or {})
    for name in BASE:
        doc[name] = sorted(tags) if name == "tags" else getattr(image, name)
    return doc


def check_key(key: str) -> None:
    if key in READ_ONLY:
        raise Forbidden("image.read_only", f"Attribute '{key}' is read-only.")
    if key in RESERVED or _RESERVED_PREFIX.match(key):
        raise Forbidden("image.reserved", f"Attribute '{key}' is reserved.")
    if not key or len(key) > MAX_TEXT:
        raise invalid(f"Property names must be 1 to {MAX_TEXT} characters long")


def validate(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Checked and normalised values of a whole editable document."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        check_key(key)
        out[key] = _check_value(key, value)
    extra = [k for k in out if k not in BASE]
    if len(extra) > MAX_PROPERTIES:
        raise TooLarge("image.properties.quota", f"Maximum of {MAX_PROPERTIES} properties")
    if len(out.get("tags") or []) > MAX_TAGS:
        raise TooLarge("image.tags.quota", f"Maximum of {MAX_TAGS} tags")
    return out


def _check_value(key: str, value: Any) -> Any:
    if key in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise invalid(f"Invalid value for '{key}': expected a boolean")
        return value
    if key in ("min_disk", "min_ram"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise invalid(f"Invalid value for '{key}': expected a non-negative integer")
        return value
    if key == "visibility":
        if value not in VISIBILITIES:
            raise invalid(f"Invalid visibility value: {value}")
        return value
    if key == "disk_format":
        return _enum(key, value, DISK_FORMATS)
    if key == "container_format":
        return _enum(key, value, CONTAINER_FORMATS)
    if key == "tags":
        return _tags(value)
    if key in ("name", "owner"):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise invalid(f"Invalid value for '{key}': a string of at most {MAX_TEXT}")
        return value
    if not isinstance(value, str):
        raise invalid(f"Invalid value for property '{key}': properties are strings")
    if len(value) > 65535:
        raise invalid(f"Property '{key}' is too long")
    return value


def _enum(key: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise invalid(f"Invalid value '{value}' for '{key}': one of {', '.join(allowed)}")
    return value  # type: ignore[no-any-return]


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise invalid("Tags must be a list of strings")
    if any(not t or len(t) > MAX_TEXT for t in value):
        raise invalid(f"Tags must be 1 to {MAX_TEXT} characters long")
    return sorted(set(value))


def check_id(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise invalid(f"Invalid image id {value!r}: a UUID is expected") from None


def apply(
    image: m.Image, before: Mapping[str, Any], after: Mapping[str, Any], ctx: RequestContext
) -> list[str] | None:
    """Write ``after`` onto ``image``; return the new tags if they changed."""
    if (
        after.get("visibility") == "public"
        and before.get("visibility") != "public"
        and not ctx.is_admin
    ):
        raise Forbidden("image.publicize", "Only an administrator may make an image public.")
    if after.get("owner") != before.get("owner") and not ctx.is_admin:
        raise Forbidden("image.owner", "Only an administrator may change an image's owner.")
    for key in ("disk_format", "container_format"):
        if after.get(key) != before.get(key) and image.status not in ("queued",):
            raise Forbidden(
                "image.format.frozen", f"Attribute {key} can be only replaced for a queued image."
            )
    for key in BASE:
        if key != "tags" and key in after:
            setattr(image, key, after[key])
    image.properties = {k: v for k, v in after.items() if k not in BASE}
    tags = list(after.get("tags") or [])
    return tags if tags != list(before.get("tags") or []) else None

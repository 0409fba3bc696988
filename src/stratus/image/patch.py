"""Glance's JSON-patch dialect for image updates.

``application/openstack-images-v2.1-json-patch`` is RFC 6902 restricted to ``add``,
``replace`` and ``remove`` of top-level members (``/name``, ``/hw_disk_bus``; ``~1`` and
``~0`` escape ``/`` and ``~``). The older ``...-v2.0-json-patch`` spells an operation as
``{"replace": "/name", "value": ...}``. Base attributes can be replaced but never
removed; replacing or removing a property that does not exist is a 409, as in Glance.
"""

from __future__ import annotations

from typing import Any

from stratus.common.errors import Conflict, Forbidden
from stratus.image.attributes import BASE, check_key, invalid

MEDIA_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
OPS = ("add", "replace", "remove")


def apply_patch(doc: dict[str, Any], body: Any) -> dict[str, Any]:
    """A new document with every operation of ``body`` applied in order."""
    if not isinstance(body, list):
        raise invalid("A JSON patch must be a list of operations")
    out = dict(doc)
    for change in body:
        op, key, value = _parse(change)
        check_key(key)
        if op == "remove":
            if key in BASE:
                raise Forbidden("image.base", f"Attribute '{key}' cannot be removed.")
            if key not in out:
                raise Conflict("image.property.missing", f"Property {key} does not exist.")
            del out[key]
        elif op == "replace" and key not in out:
            raise Conflict("image.property.missing", f"Property {key} does not exist.")
        else:
            out[key] = value
    return out


def _parse(change: Any) -> tuple[str, str, Any]:
    if not isinstance(change, dict):
        raise invalid("Each patch operation must be a JSON object")
    if "op" in change:
        op, path = change.get("op"), change.get("path")
    else:  # the v2.0 spelling
        found = [o for o in OPS if o in change]
        if len(found) != 1:
            raise invalid("Operation objects must contain exactly one of add, replace, remove")
        op, path = found[0], change[found[0]]
    if op not in OPS:
        raise invalid(f"Invalid operation: {op!r}; add, replace or remove expected")
    if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1:
        raise invalid(f"Invalid JSON pointer for this resource: '{path}'")
    if op != "remove" and "value" not in change:
        raise invalid(f"Operation '{op}' needs a value")
    key = path[1:].replace("~1", "/").replace("~0", "~")
    return str(op), key, change.get("value")

"""Request bodies as Neutron reads them: ``{"network": {...}}`` with typed attributes.

Each converter accepts what Neutron's does (booleans as ``true``/``"True"``/``1``,
integers as numbers or numeric strings) and refuses anything else with a 400 that names
the attribute. Addresses are returned in their canonical text form.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from stratus.common.asgi.routing import ApiRequest
from stratus.network.errors import bad, bad_request

MAX_NAME = 255
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def body_of(req: ApiRequest, resource: str, allowed: Iterable[str]) -> dict[str, Any]:
    """The object under ``resource``; unknown attributes are a 400, as Neutron's are."""
    data = await req.json()
    if not isinstance(data, dict) or not isinstance(data.get(resource), dict):
        raise bad("HTTPBadRequest", f"Resource body required: expected a '{resource}' object.")
    inner: dict[str, Any] = data[resource]
    unknown = sorted(set(inner) - set(allowed))
    if unknown:
        names = ", ".join(unknown)
        raise bad("HTTPBadRequest", f"Unrecognized attribute(s) '{names}'")
    return inner


def read_only(body: Mapping[str, Any], names: Iterable[str]) -> None:
    """Attributes that cannot change after create (an update naming them is a 400)."""
    for name in names:
        if name in body:
            raise bad("HTTPBadRequest", f"Cannot update read-only attribute {name}")


def to_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise bad_request(f"'{value}' cannot be converted to boolean for {field}")


def to_int(value: Any, field: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool):
        raise bad_request(f"'{value}' is not an integer for {field}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"'{value}' is not an integer for {field}") from None
    if low is not None and number < low:
        raise bad_request(f"'{number}' is too small for {field}, it must be at least {low}")
    if high is not None and number > high:
        raise bad_request(f"'{number}' is too large for {field}, it must be at most {high}")
    return number


def to_str(value: Any, field: str, max_len: int = MAX_NAME) -> str:
    if not isinstance(value, str):
        raise bad_request(f"'{value}' is not a valid string for {field}")
    if len(value) > max_len:
        raise bad_request(f"'{value}' exceeds maximum length of {max_len} for {field}")
    return value


def to_uuid(value: Any, field: str) -> str:
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise bad_request(f"'{value}' is not a valid UUID for {field}")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def to_mac(value: Any, field: str = "mac_address") -> str:
    """A unicast, non-zero MAC in lower case with colons."""
    if not isinstance(value, str) or not _MAC.match(value):
        raise bad_request(f"'{value}' is not a valid MAC address for {field}")
    mac = value.lower().replace("-", ":")
    if int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
        raise bad_request(f"'{value}' is not a valid MAC address for {field}")
    return mac


def to_ip(value: Any, field: str) -> IpAddress:
    if isinstance(value, str) and "/" not in value:
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            pass
    raise bad_request(f"'{value}' is not a valid IP address for {field}")


def to_cidr(value: Any, field: str = "cidr") -> IpNetwork:
    """A CIDR whose host bits are all zero: ``10.0.0.1/24`` is refused, as in Neutron."""
    if not isinstance(value, str) or "/" not in value:
        raise bad_request(f"'{value}' is not a valid IP subnet for {field}")
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise bad_request(f"'{value}' is not a valid IP subnet for {field}") from None
    if iface.ip != iface.network.network_address:
        raise bad_request(
            f"'{value}' isn't a recognized IP subnet cidr, '{iface.network}' is recommended"
        )
    return iface.network


def to_prefix(value: Any, field: str) -> IpNetwork:
    """An address or CIDR with host bits allowed (``remote_ip_prefix``, address pairs)."""
    if isinstance(value, str):
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            pass
    raise bad_request(f"'{value}' is not a valid IP prefix for {field}")


def to_list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad_request(f"'{value}' is not a list for {field}")
    return value


def project_of(req: ApiRequest, body: Mapping[str, Any]) -> str:
    """The owning project: the caller's, or (admins only) the one the body names."""
    given = body.get("project_id", body.get("tenant_id"))
    if "project_id" in body and "tenant_id" in body and body["project_id"] != body["tenant_id"]:
        raise bad("HTTPBadRequest", "'project_id' and 'tenant_id' do not match")
    own = req.ctx.project_id or ""
    if given is None or given == own:
        return own
    to_str(given, "project_id")
    if not req.ctx.is_admin:
        raise bad(
            "HTTPBadRequest",
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
            "in request requires admin privileges",
        )
    return str(given)

"""A port's security attributes and binding, checked as Neutron checks them.

Security groups need port security; so do allowed address pairs. The binding is what
compute reads to plug the port: ``unbound`` until a host is named, then a Linux bridge
VIF (the data plane's). ``binding:vif_type`` and ``binding:vif_details`` are never
written by clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.attributes import to_list, to_mac, to_prefix, to_str, to_uuid
from stratus.network.errors import bad, bad_request, conflict, not_found

MAX_ADDRESS_PAIRS = 10
VNIC_TYPES = ("normal",)
VIF_BRIDGE = "bridge"
VIF_UNBOUND = "unbound"


def address_pairs(value: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in to_list(value, "allowed_address_pairs"):
        if (
            not isinstance(item, dict)
            or "ip_address" not in item
            or set(item)
            - {
                "ip_address",
                "mac_address",
            }
        ):
            raise bad_request(f"Invalid data format for allowed address pair: '{item}'")
        prefix = to_prefix(item["ip_address"], "ip_address")
        text = str(prefix.network_address) if prefix.num_addresses == 1 else str(prefix)
        pair = {"ip_address": text}
        if item.get("mac_address") is not None:
            pair["mac_address"] = to_mac(item["mac_address"])
        out.append(pair)
    if len({(p["ip_address"], p.get("mac_address")) for p in out}) != len(out):
        raise bad("DuplicateAddressPairInRequest", "Request contains duplicate address pair.")
    if len(out) > MAX_ADDRESS_PAIRS:
        raise bad(
            "AllowedAddressPairExhausted",
            f"The number of allowed address pair exceeds the maximum {MAX_ADDRESS_PAIRS}.",
        )
    return out


def with_port_mac(pairs: Sequence[dict[str, str]], mac: str) -> list[dict[str, str]]:
    """Pairs given without a MAC use the port's, as Neutron stores them."""
    return [
        {"ip_address": p["ip_address"], "mac_address": p.get("mac_address") or mac} for p in pairs
    ]


def group_ids(value: Any) -> list[str]:
    ids = [to_uuid(v, "security_groups") for v in to_list(value, "security_groups")]
    return sorted(set(ids))


async def check_groups(
    session: AsyncSession, ids: Sequence[str], project_id: str, is_admin: bool
) -> None:
    """Every group exists and belongs to the port's project (admins may mix)."""
    for group_id in ids:
        group = await session.get(m.SecurityGroup, group_id)
        if group is None or (group.project_id != project_id and not is_admin):
            raise not_found("security_group", group_id)


def check_security(enabled: bool, groups: Sequence[str], pairs: Sequence[Any]) -> None:
    if enabled:
        return
    if groups:
        raise bad(
            "PortSecurityAndIPRequiredForSecurityGroups",
            "Port security must be enabled and port must have an IP address in order to "
            "use security groups.",
        )
    if pairs:
        raise conflict(
            "AddressPairAndPortSecurityRequired",
            "Port Security must be enabled in order to have allowed address pairs on a port.",
        )


async def set_groups(session: AsyncSession, port_id: str, ids: Sequence[str]) -> None:
    await session.execute(
        sa.delete(m.PortSecurityGroup).where(m.PortSecurityGroup.port_id == port_id)
    )
    session.add_all(m.PortSecurityGroup(port_id=port_id, security_group_id=g) for g in ids)


def apply_binding(port: m.Port, body: dict[str, Any]) -> None:
    """Record where the port is plugged and what compute must do to plug it."""
    if "binding:vnic_type" in body:
        vnic = body["binding:vnic_type"]
        if vnic not in VNIC_TYPES:
            raise bad_request(f"'{vnic}' is not in {list(VNIC_TYPES)} for binding:vnic_type")
        port.binding_vnic_type = vnic
    if "binding:profile" in body:
        profile = body["binding:profile"] or {}
        if not isinstance(profile, dict):
            raise bad_request(f"'{profile}' is not a dictionary for binding:profile")
        port.binding_profile = profile
    if "binding:host_id" in body:
        port.binding_host_id = to_str(body["binding:host_id"] or "", "binding:host_id")
    rebind(port)


def rebind(port: m.Port) -> None:
    if port.binding_host_id:
        port.binding_vif_type = VIF_BRIDGE
        port.binding_vif_details = {
            "connectivity": "l2",
            "port_filter": port.port_security_enabled,
        }
    else:
        port.binding_vif_type = VIF_UNBOUND
        port.binding_vif_details = {}

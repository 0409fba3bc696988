"""What os-aggregates accepts: its request bodies, and Nova's rules on zones.

A host's zone is the zone of the aggregate with a zone it belongs to, else its own
(``host_zones.py``). So a host may not be in two aggregates with different zones, and a
change that would move a host holding servers to another zone is refused: those servers
would change zone under their owners (Nova refuses both, with 400).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.errors import InvalidInput
from stratus.compute.api.common import bad, check_unknown
from stratus.compute.api.host_zones import host_zones
from stratus.compute.api.server_request import name_of
from stratus.compute.models import Aggregate, Instance
from stratus.compute.states import VmState

ZONE_KEY = "availability_zone"
INTERNAL_ZONE = "internal"  # os-services' zone for services that are not compute hosts
_METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")

Refusal = Callable[[str], InvalidInput]

# Changes to aggregates in this process, one at a time (``aggregates.py``).
AGGREGATE_CHANGES = asyncio.Lock()


def refusal(prefix: str) -> Refusal:
    """Nova's ``InvalidAggregateAction*`` message: ``<prefix> Reason: <reason>.``"""
    return lambda reason: bad(f"{prefix} Reason: {reason}.")


def aggregate_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise bad(f"Invalid input received: aggregate id must be an integer, not {raw[:80]}.")
    return int(raw)


def zone_of(value: Any, field: str = ZONE_KEY) -> str:
    zone = name_of(value, field)
    if ":" in zone:
        raise bad(f"Invalid input for field/attribute {field}. Value: {zone}. ':' is not allowed")
    if zone == INTERNAL_ZONE:
        raise bad(f"Aggregates cannot be put in the '{INTERNAL_ZONE}' availability zone.")
    return zone


def create_fields(body: dict[str, Any]) -> tuple[str, str | None]:
    check_unknown(body, {"name", ZONE_KEY}, "aggregate")
    if "name" not in body:
        raise bad("'name' is a required property")
    zone = body.get(ZONE_KEY)
    return name_of(body["name"]), None if zone is None else zone_of(zone)


def update_fields(body: dict[str, Any]) -> dict[str, str]:
    check_unknown(body, {"name", ZONE_KEY}, "aggregate")
    if not body:
        raise bad("Invalid input for field/attribute aggregate. {} does not have enough properties")
    fields = {}
    if "name" in body:
        fields["name"] = name_of(body["name"])
    if ZONE_KEY in body:
        fields[ZONE_KEY] = zone_of(body[ZONE_KEY])
    return fields


def host_of(action: str, body: Any) -> str:
    if not isinstance(body, dict):
        raise bad(f"Invalid input for field/attribute {action}. Value: {body}.")
    check_unknown(body, {"host"}, action)
    if "host" not in body:
        raise bad("'host' is a required property")
    return name_of(body["host"], "host")


def metadata_of(body: Any) -> dict[str, str | None]:
    """``set_metadata``'s ``{"metadata": {key: value or null}}``; null deletes the key."""
    if not isinstance(body, dict):
        raise bad(f"Invalid input for field/attribute set_metadata. Value: {body}.")
    check_unknown(body, {"metadata"}, "set_metadata")
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        raise bad("'metadata' is a required property and must be an object")
    out: dict[str, str | None] = {}
    for key, value in metadata.items():
        if not _METADATA_KEY.match(key):
            raise bad(f"Invalid input for field/attribute metadata. Key: {key[:80]!r}.")
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise bad(f"Invalid input for field/attribute {key}. Value: {str(value)[:80]}.")
        out[key] = zone_of(value) if key == ZONE_KEY and value is not None else value
    return out


def set_zone(agg: Aggregate, zone: str | None) -> None:
    """The zone lives in the column (the scheduler's) and in the metadata (Nova's view)."""
    agg.availability_zone = zone
    metadata = {k: v for k, v in agg.metadata_.items() if k != ZONE_KEY}
    if zone is not None:
        metadata[ZONE_KEY] = zone
    agg.metadata_ = metadata


def merge_metadata(agg: Aggregate, changes: dict[str, str | None]) -> None:
    metadata = dict(agg.metadata_)
    for key, value in changes.items():
        if key == ZONE_KEY:
            continue
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    agg.metadata_ = metadata
    if ZONE_KEY in changes:
        set_zone(agg, changes[ZONE_KEY])


async def check_zones(
    s: AsyncSession,
    agg: Aggregate,
    hosts: Collection[str],
    before: dict[str, str],
    refuse: Refusal,
) -> None:
    """After ``agg`` changed in this session: refuse if one of ``hosts`` is now in two
    zones, or moved zone (from ``before``, ``host_zones`` read before the change) while
    it holds servers."""
    if not hosts:
        return
    zoned = await s.execute(
        sa.select(Aggregate.hosts, Aggregate.availability_zone).where(
            Aggregate.availability_zone.is_not(None)
        )
    )
    zones: dict[str, set[str]] = {}
    for members, zone in zoned:
        for host in set(members) & set(hosts):
            zones.setdefault(host, set()).add(str(zone))
    clashing = sorted({z for found in zones.values() if len(found) > 1 for z in found})
    if clashing:
        others = [z for z in clashing if z != agg.availability_zone]
        raise refuse(f"One or more hosts already in availability zone(s) {others}")
    after = await host_zones(s, hosts)
    moved = [h for h in hosts if after.get(h) != before.get(h)]
    if moved and await _has_servers(s, moved):
        raise refuse("One or more hosts contain instances in this zone")


async def _has_servers(s: AsyncSession, hosts: list[str]) -> bool:
    found = await s.scalar(
        sa.select(Instance.id)
        .where(
            Instance.vm_state != VmState.DELETED,
            sa.or_(Instance.host.in_(hosts), Instance.source_host.in_(hosts)),
        )
        .limit(1)
    )
    return found is not None

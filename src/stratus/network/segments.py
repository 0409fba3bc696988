"""Provider segments: which wire a network is on (flat, VLAN or VXLAN) and its id.

Tenant networks get a VXLAN id from ``[network].vni_min..vni_max``; admins may name the
type, physical network and id (``provider:*``). Each segment in use is one
``network_segments`` row, whose primary key refuses a second network on the same wire.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.attributes import to_int, to_str
from stratus.network.errors import bad_request, conflict, unavailable
from stratus.network.settings import NetworkSettings

TYPES = ("flat", "vlan", "vxlan")
PROVIDER_ATTRS = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
MAX_VNI = (1 << 24) - 1


@dataclass(frozen=True)
class SegmentRequest:
    network_type: str
    physical_network: str | None
    segmentation_id: int | None


def parse(cfg: NetworkSettings, body: Mapping[str, Any]) -> SegmentRequest:
    """The admin's ``provider:*`` attributes, or a tenant VXLAN segment when none."""
    kind = body.get("provider:network_type")
    physnet = body.get("provider:physical_network")
    seg_id = body.get("provider:segmentation_id")
    if kind is None:
        if physnet is not None or seg_id is not None:
            raise bad_request("provider:network_type required")
        return SegmentRequest("vxlan", None, None)
    if kind not in TYPES:
        raise bad_request(f"network_type value '{kind}' not supported")
    physnet = None if physnet is None else to_str(physnet, "provider:physical_network", 64)
    seg = None if seg_id is None else to_int(seg_id, "provider:segmentation_id")
    if kind == "vxlan":
        if physnet:
            raise bad_request("provider:physical_network specified for vxlan network")
        if seg is not None and not 1 <= seg <= MAX_VNI:
            raise bad_request(f"segmentation_id out of range (1 through {MAX_VNI})")
        return SegmentRequest(kind, None, seg)
    if not physnet:
        raise bad_request(f"physical_network required for {kind} provider network")
    known = cfg.flat_networks if kind == "flat" else [r.physical_network for r in cfg.vlan_ranges]
    if physnet not in known:
        raise bad_request(f"physical_network '{physnet}' unknown for {kind} provider network")
    if kind == "flat" and seg is not None:
        raise bad_request("segmentation_id specified for flat provider network")
    if kind == "vlan" and seg is not None and not 1 <= seg <= 4094:
        raise bad_request("segmentation_id out of range (1 through 4094)")
    return SegmentRequest(kind, physnet, seg)


def mtu_limit(cfg: NetworkSettings, kind: str) -> int:
    return cfg.vxlan_mtu if kind == "vxlan" else cfg.physnet_mtu


async def reserve(
    session: AsyncSession, cfg: NetworkSettings, req: SegmentRequest, network: m.Network
) -> None:
    """Claim the segment for ``network`` (added to the session, flushed: a racer that took
    the same id makes this raise ``IntegrityError``, which the caller retries)."""
    physnet = req.physical_network or ""
    seg_id = req.segmentation_id
    if req.network_type == "flat":
        seg_id = 0
        if await _in_use(session, "flat", physnet, 0):
            raise _in_use_error("flat", physnet, 0)
    elif seg_id is None:
        seg_id = await _free_id(session, cfg, req.network_type, physnet)
    elif await _in_use(session, req.network_type, physnet, seg_id):
        raise _in_use_error(req.network_type, physnet, seg_id)
    network.network_type = req.network_type
    network.physical_network = req.physical_network
    network.segmentation_id = None if req.network_type == "flat" else seg_id
    session.add(
        m.Segment(
            network_type=req.network_type,
            physical_network=physnet,
            segmentation_id=seg_id,
            network_id=network.id,
        )
    )
    await session.flush()


async def _in_use(session: AsyncSession, kind: str, physnet: str, seg_id: int) -> bool:
    found = await session.get(m.Segment, (kind, physnet, seg_id))
    return found is not None


def _in_use_error(kind: str, physnet: str, seg_id: int) -> Exception:
    if kind == "flat":
        return conflict(
            "FlatNetworkInUse",
            f"Unable to create the flat network. Physical network {physnet} is in use.",
        )
    if kind == "vlan":
        return conflict(
            "VlanIdInUse",
            f"Unable to create the network. The VLAN {seg_id} on physical network "
            f"{physnet} is in use.",
        )
    return conflict(
        "TunnelIdInUse", f"Unable to create the network. The tunnel ID {seg_id} is in use."
    )


async def _free_id(session: AsyncSession, cfg: NetworkSettings, kind: str, physnet: str) -> int:
    if kind == "vxlan":
        spans = [(cfg.vni_min, cfg.vni_max)]
    else:
        spans = [(r.low, r.high) for r in cfg.vlan_ranges if r.physical_network == physnet]
    used = set(
        (
            await session.scalars(
                sa.select(m.Segment.segmentation_id).where(
                    m.Segment.network_type == kind, m.Segment.physical_network == physnet
                )
            )
        ).all()
    )
    free: list[int] = []
    for low, high in spans:
        for candidate in range(low, high + 1):
            if candidate not in used:
                free.append(candidate)
                if len(free) >= 16:
                    return random.choice(free)
    if not free:
        raise unavailable(
            "NoNetworkAvailable",
            "Unable to create the network. No tenant network is available for allocation.",
        )
    return random.choice(free)

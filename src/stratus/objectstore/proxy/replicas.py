"""The two ways the proxy talks to replicas of a database or object.

``read_one`` asks one node at a time (primaries, then handoffs) and takes the first
success, so a read costs one request when the cluster is healthy. ``write_all`` sends to
every primary at once and lets a handoff stand in for a primary that cannot take the
write, so a quorum survives a node failure; the caller reduces the statuses with
``placement.best_status``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import httpx

from stratus.objectstore.proxy.backend import UNREACHABLE, Reply
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.placement import Placement
from stratus.objectstore.ring.devices import Device

PathFor = Callable[[Device], str]


def failed(status: int) -> bool:
    """The node could not do it (down, erroring, disk gone); another node might."""
    return status == UNREACHABLE or status >= 500


async def read_one(
    cluster: Cluster,
    placement: Placement,
    path: PathFor,
    method: str,
    headers: Mapping[str, str],
    *,
    query: bytes = b"",
) -> Reply:
    """The first 2xx; else a 404 if any node said so; else the last failure.

    Handoffs are asked only after some primary failed: when every primary answers 404,
    the thing does not exist and asking the rest of the cluster would only add load."""
    not_found: Reply | None = None
    last = Reply(503, httpx.Headers())
    primaries = {d.id for d in placement.primaries()}
    # a primary skipped for its errors counts as failed: its data may be on a handoff
    any_failed = any(cluster.limiter.limited(d) for d in placement.primaries())
    for dev in placement.nodes():
        if dev.id not in primaries and not any_failed:
            break
        reply = await cluster.backend.call(dev, path(dev), method, headers, query=query)
        if reply.ok:
            return reply
        if reply.status == 404:
            not_found = not_found or reply
        elif failed(reply.status):
            any_failed = True
            last = reply if reply.status else last
        else:
            return reply  # a definite client error (400, 412...) is the answer
    return not_found or last


async def write_all(
    cluster: Cluster,
    placement: Placement,
    path: PathFor,
    method: str,
    headers_for: Callable[[int], Mapping[str, str]],
) -> list[Reply]:
    """One reply per primary, a handoff's when the primary failed."""
    handoffs = (d for d in placement.handoffs() if not cluster.limiter.limited(d))

    async def one(index: int, dev: Device) -> Reply:
        headers = headers_for(index)
        if cluster.limiter.limited(dev):
            reply = Reply(UNREACHABLE, httpx.Headers())
        else:
            reply = await cluster.backend.call(dev, path(dev), method, headers)
        while failed(reply.status):
            spare = next(handoffs, None)
            if spare is None:
                return reply
            reply = await cluster.backend.call(spare, path(spare), method, headers)
        return reply

    primaries = placement.primaries()
    return list(await asyncio.gather(*(one(i, d) for i, d in enumerate(primaries))))

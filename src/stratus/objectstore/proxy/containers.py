"""``/v1/{account}/{container}``: create, list, inspect, update and delete containers.

Writes go to every container replica with one ``X-Timestamp``; each replica is also told
one account replica (``X-Account-Host/Device/Partition``) to report itself to, so the
account's container listing follows without the proxy waiting on it. Listings are read
from one replica and rendered in the client's format.
"""

from __future__ import annotations

from collections.abc import Mapping

from stratus.objectstore.dbs.metadata import CONTAINER_EXTRA
from stratus.objectstore.proxy import accounts, listings, swift_scope
from stratus.objectstore.proxy.backend import backend_path
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import QuorumLost, not_found
from stratus.objectstore.proxy.placement import best_status
from stratus.objectstore.proxy.replicas import read_one, write_all
from stratus.objectstore.proxy.request import SwiftRequest
from stratus.objectstore.proxy.responses import RawResponse, forwarded

ALLOWED = "PUT, GET, HEAD, POST, DELETE"
CONFLICT = b"There was a conflict when trying to complete your request.\n"


async def handle(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    if req.method in ("GET", "HEAD"):
        return await _read(cluster, req)
    if req.method in ("PUT", "POST", "DELETE"):
        return await _write(cluster, req)
    return RawResponse(405, [(b"allow", ALLOWED.encode())])


def _headers(req: SwiftRequest) -> dict[str, str]:
    kept = accounts.passthrough(req.headers, "container")
    kept.update({k: v for k, v in req.headers.items() if k in CONTAINER_EXTRA})
    kept["X-Timestamp"] = req.timestamp.internal
    return kept


def _account_targets(cluster: Cluster, req: SwiftRequest, replicas: int) -> list[dict[str, str]]:
    """Container replica ``i`` reports to account replica ``i`` (wrapping around)."""
    nodes = cluster.account_nodes(req.account)
    primaries = nodes.primaries()
    out = []
    for i in range(replicas):
        dev = primaries[i % len(primaries)]
        host = f"[{dev.ip}]" if ":" in dev.ip else dev.ip
        out.append(
            {
                "X-Account-Host": f"{host}:{dev.port}",
                "X-Account-Device": dev.device,
                "X-Account-Partition": str(nodes.partition),
            }
        )
    return out


async def _write(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    assert req.container is not None
    if req.method != "DELETE":
        cluster.constraints.check_metadata(req.headers, "container")
    if req.method == "PUT" and not await accounts.account_exists(cluster, req):
        if not cluster.config.account_autocreate:
            raise not_found("Account not found")
        await accounts.autocreate(cluster, req)
    nodes = cluster.container_nodes(req.account, req.container)
    base = _headers(req)
    targets = _account_targets(cluster, req, nodes.replicas)

    def headers_for(i: int) -> Mapping[str, str]:
        return base if req.method == "POST" else {**base, **targets[i]}

    path = lambda d: backend_path(d, nodes.partition, req.account, req.container)  # noqa: E731
    replies = await write_all(cluster, nodes, path, req.method, headers_for)
    status = best_status((r.status for r in replies), nodes.quorum)
    if status is None:
        raise QuorumLost
    if status == 409:
        return RawResponse(409, [(b"content-type", b"text/plain; charset=utf-8")], CONFLICT)
    return RawResponse(status, [])


async def _read(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    assert req.container is not None
    query = b""
    if req.method == "GET":
        query = accounts.listing_query(req.query, cluster.constraints.container_listing_limit)
    nodes = cluster.container_nodes(req.account, req.container)
    path = lambda d: backend_path(d, nodes.partition, req.account, req.container)  # noqa: E731
    reply = await read_one(cluster, nodes, path, req.method, {}, query=query)
    if not reply.ok:
        return RawResponse(reply.status or 503, [])
    fmt = listings.choose_format(req.query, req.headers.get("accept", ""))
    headers = [h for h in forwarded(reply.headers.raw) if h[0] != b"content-type"]
    headers.append((b"content-type", listings.CONTENT_TYPES[fmt].encode()))
    if req.method == "HEAD":
        return RawResponse(204, headers)
    entries = listings.parse_entries(reply.body)
    body = listings.render(entries, fmt, root="container", name=req.container)
    return RawResponse(200 if body else 204, headers, body)


async def container_exists(cluster: Cluster, req: SwiftRequest, container: str) -> bool:
    """Whether ``container`` of the request's account exists (before an object write);
    a middleware above may have read it for this very request already."""
    known = req.scope.get(swift_scope.RESOURCE_INFO, {}).get(f"/v1/{req.account}/{container}")
    if known:
        return True
    nodes = cluster.container_nodes(req.account, container)
    path = lambda d: backend_path(d, nodes.partition, req.account, container)  # noqa: E731
    reply = await read_one(cluster, nodes, path, "HEAD", {})
    if reply.ok:
        return True
    if reply.status == 404:
        return False
    raise QuorumLost("Container servers unavailable")

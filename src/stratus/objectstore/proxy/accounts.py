"""``/v1/{account}``: listing containers, account metadata, and account auto-creation.

Accounts are not created by clients: with ``account_autocreate`` (Swift's option, on by
default) the first container PUT creates the account, and a missing account reads as an
empty one, so a new project can use the store at once. PUT and DELETE of an account are
operator actions (the reaper's), answered 405 here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

from stratus.objectstore.proxy import listings
from stratus.objectstore.proxy.backend import backend_path
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import PreconditionFailed, QuorumLost
from stratus.objectstore.proxy.placement import best_status
from stratus.objectstore.proxy.replicas import read_one, write_all
from stratus.objectstore.proxy.request import SwiftRequest
from stratus.objectstore.proxy.responses import RawResponse, forwarded, plain_headers

LISTING_PARAMS = ("limit", "marker", "end_marker", "prefix", "delimiter", "path", "reverse")
_DIGITS = re.compile(r"[0-9]{1,20}")
ALLOWED = "GET, HEAD, POST"


def listing_query(query: Mapping[str, str], max_limit: int) -> bytes:
    """The listing parameters the backend understands; a bad limit is Swift's 412."""
    limit = query.get("limit")
    if limit is not None and (not _DIGITS.fullmatch(limit) or int(limit) > max_limit):
        raise PreconditionFailed(f"Value of limit must be an integer from 0 to {max_limit}")
    delimiter = query.get("delimiter", "")
    if len(delimiter) > 1 or (delimiter and ord(delimiter) > 254):
        raise PreconditionFailed("Bad delimiter")
    kept = {k: query[k] for k in LISTING_PARAMS if k in query}
    return urlencode(kept).encode()


def passthrough(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """User metadata and its removal headers, as clients may set them, and sysmeta (which
    only middleware can send: the gatekeeper strips it from clients' requests)."""
    prefixes = (f"x-{kind}-meta-", f"x-remove-{kind}-meta-", f"x-{kind}-sysmeta-")
    return {k: v for k, v in headers.items() if k.startswith(prefixes)}


async def handle(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    if req.method in ("GET", "HEAD"):
        return await _read(cluster, req)
    if req.method == "POST":
        return await _post(cluster, req)
    return RawResponse(405, [(b"allow", ALLOWED.encode())])


async def _read(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    query = b""
    if req.method == "GET":
        query = listing_query(req.query, cluster.constraints.account_listing_limit)
    nodes = cluster.account_nodes(req.account)
    path = lambda d: backend_path(d, nodes.partition, req.account)  # noqa: E731
    reply = await read_one(cluster, nodes, path, req.method, {}, query=query)
    if reply.status == 404 and cluster.config.account_autocreate:
        return _listing(req, _EMPTY_ACCOUNT, b"")
    if not reply.ok:
        return RawResponse(reply.status if reply.status else 503, [])
    return _listing(req, forwarded(reply.headers.raw), reply.body)


_EMPTY_ACCOUNT = plain_headers(
    {"X-Account-Container-Count": "0", "X-Account-Object-Count": "0", "X-Account-Bytes-Used": "0"}
)


def _listing(req: SwiftRequest, headers: list[tuple[bytes, bytes]], body: bytes) -> RawResponse:
    fmt = listings.choose_format(req.query, req.headers.get("accept", ""))
    headers = [h for h in headers if h[0] != b"content-type"]
    headers.append((b"content-type", listings.CONTENT_TYPES[fmt].encode()))
    if req.method == "HEAD":
        return RawResponse(204, headers)
    entries = listings.parse_entries(body)
    out = listings.render(entries, fmt, root="account", name=req.account)
    return RawResponse(200 if out else 204, headers, out)


async def _post(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    cluster.constraints.check_metadata(req.headers, "account")
    status = await post_account(cluster, req)
    if status == 404 and cluster.config.account_autocreate:
        await autocreate(cluster, req)
        status = await post_account(cluster, req)
    return RawResponse(status, [])


async def post_account(cluster: Cluster, req: SwiftRequest) -> int:
    nodes = cluster.account_nodes(req.account)
    headers = {**passthrough(req.headers, "account"), "X-Timestamp": req.timestamp.internal}
    replies = await write_all(
        cluster,
        nodes,
        lambda d: backend_path(d, nodes.partition, req.account),
        "POST",
        lambda _: headers,
    )
    status = best_status((r.status for r in replies), nodes.quorum)
    if status is None:
        raise QuorumLost
    return status


async def account_exists(cluster: Cluster, req: SwiftRequest) -> bool:
    nodes = cluster.account_nodes(req.account)
    path = lambda d: backend_path(d, nodes.partition, req.account)  # noqa: E731
    reply = await read_one(cluster, nodes, path, "HEAD", {})
    if reply.ok:
        return True
    if reply.status == 404:
        return False
    raise QuorumLost("Account servers unavailable")


async def autocreate(cluster: Cluster, req: SwiftRequest) -> None:
    """Create the account on its replicas (a quorum must take it)."""
    nodes = cluster.account_nodes(req.account)
    headers = {"X-Timestamp": req.timestamp.internal}
    replies = await write_all(
        cluster,
        nodes,
        lambda d: backend_path(d, nodes.partition, req.account),
        "PUT",
        lambda _: headers,
    )
    status = best_status((r.status for r in replies), nodes.quorum)
    if status is None or status // 100 != 2:
        raise QuorumLost("Could not create the account")

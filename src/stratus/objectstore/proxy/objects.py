"""``/v1/{account}/{container}/{object}``: the object data path.

PUT streams the body to every replica (``upload.py``) with one ``X-Timestamp`` and
succeeds on a quorum, then updates the container listing (``container_updates.py``).
GET and HEAD read from one replica, moving on to the other primaries and then handoffs
when a node fails, so one dead server costs a reader nothing but a connect attempt.
DELETE and POST go to every replica. COPY and ``X-Copy-From`` build on this in
``copies.py``.
"""

from __future__ import annotations

import mimetypes
import re
import time
from collections.abc import AsyncIterator, Mapping

import httpx

from stratus.objectstore.proxy import upload
from stratus.objectstore.proxy.backend import backend_path
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.container_updates import update_containers
from stratus.objectstore.proxy.containers import container_exists
from stratus.objectstore.proxy.errors import (
    EtagMismatch,
    PreconditionFailed,
    QuorumLost,
    bad_request,
    not_found,
)
from stratus.objectstore.proxy.expiry_queue import queue_expiry
from stratus.objectstore.proxy.placement import best_status
from stratus.objectstore.proxy.replicas import failed, write_all
from stratus.objectstore.proxy.request import ObjectName, SwiftRequest
from stratus.objectstore.proxy.responses import RawResponse, StreamedResponse, forwarded
from stratus.objectstore.ring.devices import Device
from stratus.objectstore.storage.conditions import ETAG_IS_AT, missing_status
from stratus.objectstore.storage.server_request import STORED_HEADERS, SYSMETA_HEADERS

SYSMETA = "x-object-sysmeta-"
OVERRIDE = "x-object-sysmeta-container-update-override-"

ALLOWED = "PUT, GET, HEAD, POST, DELETE, COPY"
DEFAULT_TYPE = "application/octet-stream"
META = "x-object-meta-"
_DIGITS = re.compile(r"[0-9]{1,20}")
MAX_DELETE_AT = 9_999_999_999
# what a GET or HEAD passes on: the object server evaluates ranges and conditions, since
# it alone knows the ETag and time; ``X-Backend-Etag-Is-At`` only middleware can send
READ_HEADERS = frozenset(
    {
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        ETAG_IS_AT,
    }
)

Served = RawResponse | StreamedResponse


async def handle(cluster: Cluster, req: SwiftRequest) -> Served:
    """Plain object verbs; ``app.py`` sends COPY and ``X-Copy-From`` to ``copies.py``."""
    if req.method in ("GET", "HEAD"):
        return await get(cluster, req)
    if req.method == "PUT":
        return await put(cluster, req)
    if req.method in ("DELETE", "POST"):
        return await _delete_or_post(cluster, req)
    return RawResponse(405, [(b"allow", ALLOWED.encode())])


async def open_object(
    cluster: Cluster, name: ObjectName, method: str, headers: Mapping[str, str]
) -> httpx.Response | RawResponse:
    """The first good replica's response, body unread (the caller closes it), or the
    answer to give: 404 when no replica has it, 416 for a bad range, else 503.

    Handoffs are tried only once a primary has failed: when all primaries say 404 the
    object does not exist, and asking every other node would only multiply load."""
    nodes = cluster.object_nodes(name.account, name.container, name.obj)
    primaries = {d.id for d in nodes.primaries()}
    any_failed = any(cluster.limiter.limited(d) for d in nodes.primaries())
    missing = False
    for dev in nodes.nodes():
        if dev.id not in primaries and not any_failed:
            break
        path = backend_path(dev, nodes.partition, name.account, name.container, name.obj)
        response = await cluster.backend.open(dev, path, method, headers)
        if response is None or failed(response.status_code):
            any_failed = True
            if response is not None:
                await response.aclose()
            continue
        if response.status_code < 300:
            return response
        await response.aclose()
        if response.status_code in (304, 412):  # the conditions' answer, from any replica
            return RawResponse(response.status_code, forwarded(response.headers.raw), bare=True)
        if response.status_code != 404:  # 416, 400: the request itself is wrong
            return RawResponse(response.status_code, forwarded(response.headers.raw))
        missing = True
    return RawResponse(missing_status(headers) if missing else 503, [])


async def get(cluster: Cluster, req: SwiftRequest) -> Served:
    assert req.container is not None and req.obj is not None
    headers = {k: v for k, v in req.headers.items() if k in READ_HEADERS}
    found = await open_object(cluster, req.object_name, req.method, headers)
    if isinstance(found, RawResponse):
        return found
    return StreamedResponse(found.status_code, forwarded(found.headers.raw), found)


def object_headers(req: SwiftRequest, *, length: int | None) -> dict[str, str]:
    """What every replica of a PUT is told: version, type, length, checksum, metadata."""
    assert req.obj is not None
    given = req.headers
    content_type = given.get("content-type") or mimetypes.guess_type(req.obj)[0] or DEFAULT_TYPE
    out = {k: v for k, v in given.items() if _kept_on_put(k)}
    out["X-Timestamp"] = req.timestamp.internal
    out["Content-Type"] = content_type
    if length is None:
        out["Transfer-Encoding"] = "chunked"
    else:
        out["Content-Length"] = str(length)
    if given.get("etag"):
        out["ETag"] = given["etag"].strip().strip('"')
    delete_at = _delete_at(given)
    if delete_at is not None:
        out["X-Delete-At"] = delete_at
    return out


def _kept_on_put(name: str) -> bool:
    """User metadata, stored headers and sysmeta (which only middleware can send: the
    gatekeeper strips it from clients' requests)."""
    return name.startswith((META, SYSMETA)) or name in STORED_HEADERS or name in SYSMETA_HEADERS


def _kept_on_post(name: str) -> bool:
    return name.startswith(META) or name in STORED_HEADERS


def _delete_at(headers: Mapping[str, str]) -> str | None:
    """``X-Delete-At`` as given, or now plus ``X-Delete-After`` seconds; Swift caps it
    at the largest timestamp (``9999999999``) rather than refusing a far future."""
    after = headers.get("x-delete-after")
    if after is not None:
        if not _DIGITS.fullmatch(after.strip()):
            raise bad_request("Non-integer X-Delete-After")
        return str(min(int(time.time()) + int(after), MAX_DELETE_AT))
    at = headers.get("x-delete-at")
    if at is None:
        return None
    if not _DIGITS.fullmatch(at.strip()):
        raise bad_request("Non-integer X-Delete-At")
    if int(at) <= time.time():
        raise bad_request("X-Delete-At in past")
    return str(min(int(at), MAX_DELETE_AT))


async def put(cluster: Cluster, req: SwiftRequest) -> Served:
    assert req.container is not None and req.obj is not None
    length = cluster.constraints.body_length(req.headers)
    cluster.constraints.check_metadata(req.headers, "object")
    headers = object_headers(req, length=length)
    await check_absent(cluster, req)
    body = req.body(cluster.config.client_timeout)
    return await store(cluster, req, req.object_name, headers, body=body, length=length)


async def check_absent(cluster: Cluster, req: SwiftRequest) -> None:
    """``If-None-Match: *`` on a PUT: 412 if the object exists (no other value is allowed).

    Asked before any of the body is read, so a refused upload costs one HEAD."""
    condition = req.headers.get("if-none-match")
    if condition is None:
        return
    if condition.strip() != "*":
        raise bad_request("If-None-Match only supports *")
    found = await open_object(cluster, req.object_name, "HEAD", {})
    if isinstance(found, RawResponse):
        if found.status != 404:
            raise QuorumLost
        return
    await found.aclose()
    raise PreconditionFailed


async def store(
    cluster: Cluster,
    req: SwiftRequest,
    name: ObjectName,
    headers: Mapping[str, str],
    *,
    body: AsyncIterator[bytes],
    length: int | None,
) -> RawResponse:
    """Write ``body`` to the replicas of ``name``; 201 once a quorum has it."""
    if not await container_exists(cluster, req, name.container):
        raise not_found("Container not found")
    nodes = cluster.object_nodes(name.account, name.container, name.obj)

    def path(dev: Device) -> str:
        return backend_path(dev, nodes.partition, name.account, name.container, name.obj)

    cfg = cluster.config
    putters = await upload.connect(
        cluster.backend, nodes.nodes(), path, headers, placement=nodes, timeout=cfg.conn_timeout
    )
    done = await upload.stream(
        putters,
        body,
        quorum=nodes.quorum,
        max_size=cluster.constraints.max_file_size,
        length=length,
        node_timeout=cfg.node_timeout,
    )
    statuses = [r.status for r in done.replies]
    if sum(1 for s in statuses if 200 <= s < 300) < nodes.quorum:
        if 422 in statuses:
            raise EtagMismatch
        if best_status(statuses, nodes.quorum) == 400:  # a bad request, not a failure
            raise bad_request("The object servers refused the request")
        raise QuorumLost
    row = {
        "X-Timestamp": req.timestamp.internal,
        "X-Size": str(done.size),
        "X-Etag": done.etag,
        "X-Content-Type": headers["Content-Type"],
    }
    row.update(listing_override(headers))
    await update_containers(cluster, name, "PUT", row)
    await queue_expiry(cluster, name, headers)  # expiry_queue.py; no-op without X-Delete-At
    reply = [(b"etag", done.etag.encode()), (b"last-modified", req.timestamp.http_date.encode())]
    return RawResponse(201, reply)


def listing_override(headers: Mapping[str, str]) -> dict[str, str]:
    """What a middleware asked the container listing to show instead of the stored
    body's size and ETag (a large object's manifest: the whole object's), through
    Swift's ``X-Object-Sysmeta-Container-Update-Override-*`` sysmeta."""
    wanted = {OVERRIDE + "size": "X-Size", OVERRIDE + "etag": "X-Etag"}
    return {wanted[k.lower()]: v for k, v in headers.items() if k.lower() in wanted}


async def _delete_or_post(cluster: Cluster, req: SwiftRequest) -> RawResponse:
    assert req.container is not None and req.obj is not None
    name = req.object_name
    headers: dict[str, str] = {"X-Timestamp": req.timestamp.internal}
    if req.method == "POST":
        cluster.constraints.check_metadata(req.headers, "object")
        headers.update({k: v for k, v in req.headers.items() if _kept_on_post(k)})
        if req.headers.get("content-type"):
            headers["Content-Type"] = req.headers["content-type"]
        delete_at = _delete_at(req.headers)
        if delete_at is not None:
            headers["X-Delete-At"] = delete_at
    nodes = cluster.object_nodes(name.account, name.container, name.obj)

    def path(dev: Device) -> str:
        return backend_path(dev, nodes.partition, name.account, name.container, name.obj)

    replies = await write_all(cluster, nodes, path, req.method, lambda _: headers)
    status = best_status((r.status for r in replies), nodes.quorum)
    if status is None:
        raise QuorumLost
    if req.method == "DELETE" and status // 100 == 2:
        await update_containers(cluster, name, "DELETE", headers)
    if req.method == "POST" and status // 100 == 2:
        await queue_expiry(cluster, name, headers)  # expiry_queue.py; needs X-Delete-At
    return RawResponse(status, [])

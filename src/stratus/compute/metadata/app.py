"""The metadata HTTP API (Nova's paths, EC2 and OpenStack formats) for proxied guests.

Each request names its instance through the proxy's signed headers; the record is looked
up only after the signature checks out, and served only if the proxy's tenant owns it.
Errors are plain text, as Nova's metadata API gives them.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from stratus.common.errors import Forbidden, InvalidInput, NotFound
from stratus.compute.metadata import ec2_format, openstack_format
from stratus.compute.metadata.record import InstanceMetadata
from stratus.compute.metadata.records import InstanceRecords
from stratus.compute.metadata.signature import is_valid

log = logging.getLogger(__name__)

ALLOWED_METHODS = ("GET", "HEAD")
JSON = "application/json"
TEXT = "text/plain; charset=UTF-8"


def plain_fault(status: int, code: str, message: str) -> Response:
    return PlainTextResponse(f"{status} {message}\n", status_code=status)


def _not_found(path: str) -> NotFound:
    return NotFound("metadata.path.not_found", f"The resource could not be found: {path}")


class MetadataApp:
    def __init__(self, records: InstanceRecords, shared_secret: str) -> None:
        self.records = records
        self.shared_secret = shared_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        if request.method not in ALLOWED_METHODS:
            raise HTTPException(405, headers={"Allow": ", ".join(ALLOWED_METHODS)})
        parts = [p for p in request.url.path.split("/") if p]
        if not parts:  # the version list needs no identity, as in Nova
            return _text(_lines([*ec2_format.VERSIONS, ec2_format.LATEST]))
        record = await self.instance_of(request)
        if parts[0] == "openstack":
            return _openstack(record, parts[1:], request.url.path)
        return _ec2(record, parts, request.url.path)

    async def instance_of(self, request: Request) -> InstanceMetadata:
        """The record of the instance the proxy vouches for, or 400/403/404."""
        instance_id = _single(request, "X-Instance-ID")
        tenant_id = _single(request, "X-Tenant-ID")
        signature = request.headers.get("x-instance-id-signature", "")
        if not is_valid(self.shared_secret, instance_id, signature):
            log.warning(
                "refused metadata request for %s from %s: bad signature",
                instance_id,
                request.headers.get("x-forwarded-for", "?"),
            )
            raise Forbidden("metadata.signature.invalid", "Invalid proxy request signature.")
        try:
            record = await self.records.get(instance_id)
        except NotFound:
            raise NotFound("metadata.instance.not_found", "Instance not found.") from None
        if record.project_id != tenant_id:
            log.warning("metadata request for %s names another tenant", instance_id)
            raise NotFound("metadata.instance.not_found", "Instance not found.")
        return record


def _single(request: Request, header: str) -> str:
    """The one value of an identity header (none, or several, is a 400, as in Nova)."""
    values = request.headers.getlist(header)
    if len(values) != 1 or not values[0]:
        problem = "missing from" if not values or not values[0] else "repeated in"
        raise InvalidInput("metadata.identity.invalid", f"{header} header is {problem} request.")
    return values[0]


def _lines(items: list[str] | tuple[str, ...]) -> bytes:
    return "\n".join(items).encode()


def _text(body: bytes) -> Response:
    return Response(body, media_type=TEXT)


def _openstack(record: InstanceMetadata, parts: list[str], path: str) -> Response:
    versions = (*openstack_format.VERSIONS, openstack_format.LATEST)
    if not parts:
        return _text(_lines(versions))
    if parts[0] not in versions or len(parts) > 2:
        raise _not_found(path)
    listed = openstack_format.names(record, parts[0])
    if len(parts) == 1:
        return _text(_lines(listed))
    if parts[1] not in listed:
        raise _not_found(path)
    seed = openstack_format.new_random_seed() if parts[1] == "meta_data.json" else ""
    body = openstack_format.render(record, parts[1], parts[0], seed)
    if body is None:
        raise _not_found(path)
    return Response(body, media_type=JSON if parts[1].endswith(".json") else TEXT)


def _ec2(record: InstanceMetadata, parts: list[str], path: str) -> Response:
    if parts[0] not in (*ec2_format.VERSIONS, ec2_format.LATEST):
        raise _not_found(path)
    node = ec2_format.lookup(ec2_format.version_root(record, parts[0]), parts[1:])
    if node is None:
        raise _not_found(path)
    return _text(ec2_format.render(node))

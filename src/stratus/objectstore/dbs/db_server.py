"""What the container and account servers share: dispatch, replication, the ASGI app.

``REPLICATE /<device>/<partition>/<hash>`` carries one JSON op of ``merge.py``. The fast
HTTP parser (httptools) refuses unknown methods, so the same call is accepted as a
``POST`` with ``X-Backend-Replicate: true``: a path alone cannot tell it apart from an
account POST (``/<device>/<partition>/<account>`` has the same shape).
"""

from __future__ import annotations

import abc
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.errors import StratusError, TooLarge
from stratus.objectstore.asgi_io import one_handler_app, utf8_headers
from stratus.objectstore.dbs import merge
from stratus.objectstore.dbs.broker import Broker, DbInfo
from stratus.objectstore.dbs.db_faults import db_fault
from stratus.objectstore.dbs.db_request import (
    DbPath,
    bad,
    db_path,
    partition_number,
)
from stratus.objectstore.dbs.dbfile import DbIdentity
from stratus.objectstore.dbs.errors import DbAlreadyExists, DeletedLater
from stratus.objectstore.dbs.metadata import MetadataRules
from stratus.objectstore.dbs.registry import AsyncDb, DbRegistry
from stratus.objectstore.dbs.rows import MetaValue
from stratus.objectstore.storage.server_faults import plain_text_fault
from stratus.objectstore.storage.server_request import request_path

METHODS = ["PUT", "GET", "HEAD", "DELETE", "POST", "REPLICATE"]
MAX_REPLICATE_BODY = 64 << 20
_HASH = re.compile(r"[0-9a-f]{32}")
Handler = Callable[[Request, DbPath, dict[str, str]], Awaitable[Response]]


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) more than ``limit`` bytes whatever is announced."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge("objectstore.request.too_large", f"Body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class DbServer(abc.ABC):
    """Routes a request to the handler named after its verb; maps errors to statuses."""

    min_parts: int
    max_parts: int

    def __init__(self, registry: DbRegistry) -> None:
        self.registry = registry

    @abc.abstractmethod
    def handlers(self) -> dict[str, Handler]: ...

    @abc.abstractmethod
    def by_hash(self, device: str, partition: int, name_hash: str) -> AsyncDb[Broker[object]]: ...

    async def dispatch(self, request: Request) -> Response:
        try:
            headers = utf8_headers(request.scope)
            if request.method == "REPLICATE" or (
                request.method == "POST" and headers.get("x-backend-replicate") == "true"
            ):
                return await self.REPLICATE(request)
            path = db_path(request.scope, min_parts=self.min_parts, max_parts=self.max_parts)
            return await self.handlers()[request.method](request, path, headers)
        except StratusError as exc:
            return db_fault(exc)

    async def REPLICATE(self, request: Request) -> Response:
        """One op of the sync protocol against the database named by its hash."""
        parts = request_path(request.scope).split("/")
        if len(parts) != 4 or parts[0] or not parts[1] or not _HASH.fullmatch(parts[3]):
            raise bad("Path must be /device/partition/<32 hex digits>")
        op = merge.parse_op(await read_body(request, MAX_REPLICATE_BODY))
        db = self.by_hash(parts[1], partition_number(parts[2]), parts[3])
        reply = await merge.handle(db, op)
        return Response(reply.model_dump_json(), media_type="application/json")


def create_app(server: DbServer) -> ASGIApp:
    """The ASGI app, wrapped in the shared edge with a plain-text fault renderer."""
    return EdgeMiddleware(one_handler_app(server.dispatch, METHODS), render=plain_text_fault)


def put_db(
    b: Broker[Any], identity: DbIdentity, meta: dict[str, MetaValue], rules: MetadataRules
) -> tuple[bool, DbInfo]:
    """Create the account or container, or raise its put timestamp; ``created`` is also
    true when the PUT revives a deleted one (both servers answer 201 then, else 202)."""
    created = False
    if not b.exists():
        try:
            b.create(identity)
            created = True
        except DbAlreadyExists:
            pass
    if not created:
        before, after = b.merge_timestamps(put=identity.put_timestamp)
        if after.is_deleted:
            raise DeletedLater(identity.name, after.delete_timestamp)
        created = before.is_deleted
    b.update_metadata(meta, rules.check_totals)
    return created, b.info()


def create_missing(b: Broker[Any], identity: DbIdentity) -> None:
    """Create the database unless it exists (reserved accounts, made on first use)."""
    if not b.exists():
        with contextlib.suppress(DbAlreadyExists):
            b.create(identity)

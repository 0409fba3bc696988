"""The container server: Swift's backend contract for container databases.

Used by the proxy and the replicator, never by end users::

    PUT|HEAD|GET|DELETE|POST /<device>/<partition>/<account>/<container>
    PUT|DELETE               /<device>/<partition>/<account>/<container>/<object>   (rows)
    POST + X-Backend-Merge-Rows: true  /<device>/<partition>/<account>/<container>
                             (many rows at once, see ``row_batch.py``)
    REPLICATE                /<device>/<partition>/<hash>          (see ``db_server.py``)

A container PUT creates the database (201) or raises its put timestamp (202); one older
than the container's delete is refused (409). DELETE needs an empty container (409
otherwise). Object rows (``X-Timestamp``, ``X-Size``, ``X-Content-Type``, ``X-Etag``)
merge newest-wins and are group-committed (``registry.py``); each change schedules a
report of the counts to the account (``account_updates.py``). GET answers the JSON
listing the proxy renders; HEAD 204 with the counts and timestamps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from stratus.objectstore.dbs import db_request as rq
from stratus.objectstore.dbs import row_batch
from stratus.objectstore.dbs.account_updates import (
    AccountReporter,
    ContainerReport,
    report_to,
    targets_from_headers,
)
from stratus.objectstore.dbs.broker import Broker, DbInfo
from stratus.objectstore.dbs.container_broker import ContainerBroker
from stratus.objectstore.dbs.db_responses import info_response, object_listing
from stratus.objectstore.dbs.db_server import (
    DbServer,
    Handler,
    create_app,
    create_missing,
    put_db,
    read_body,
)
from stratus.objectstore.dbs.dbfile import DbIdentity
from stratus.objectstore.dbs.errors import (
    ContainerNotEmpty,
    DbNotFound,
    PutLater,
)
from stratus.objectstore.dbs.metadata import CONTAINER_META
from stratus.objectstore.dbs.registry import AsyncDb, DbRegistry
from stratus.objectstore.dbs.rows import ObjectRow
from stratus.objectstore.reserved import is_reserved
from stratus.objectstore.storage.timestamp import Timestamp

MAX_CONTENT_TYPE = 1024
MAX_ETAG = 128


class ContainerServer(DbServer):
    min_parts, max_parts = 4, 5

    def __init__(
        self, registry: DbRegistry, reporter: AccountReporter, *, account_timeout: float = 5.0
    ) -> None:
        super().__init__(registry)
        self.reporter = reporter
        self.account_timeout = account_timeout

    def handlers(self) -> dict[str, Handler]:
        return {
            "PUT": self.PUT,
            "HEAD": self.HEAD,
            "GET": self.GET,
            "DELETE": self.DELETE,
            "POST": self.POST,
        }

    def by_hash(self, device: str, partition: int, name_hash: str) -> AsyncDb[Broker[object]]:
        return self.registry.container_by_hash(device, partition, name_hash)  # type: ignore[return-value]

    def _db(self, path: rq.DbPath) -> AsyncDb[ContainerBroker]:
        assert path.container is not None
        return self.registry.container(path.device, path.partition, path.account, path.container)

    async def PUT(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        if path.obj is not None:
            return await self._object_rows(path, [_object_row(path.obj, headers)], 201)
        ts = rq.timestamp(headers)
        meta = CONTAINER_META.from_headers(headers, ts)
        targets = targets_from_headers(headers)
        identity = DbIdentity(path.account, path.container, ts, ts)
        created, info = await self._db(path).call(
            lambda b: put_db(b, identity, meta, CONTAINER_META)
        )
        statuses = await report_to(targets, _report(info), self.account_timeout)
        if statuses and all(s == 404 for s in statuses):
            return Response("Account not found\n", status_code=404)
        return info_response(201 if created else 202, info)

    async def HEAD(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        info = await self._db(path).call(Broker.live_info)
        return info_response(204, info)

    async def GET(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        query = rq.listing_query(request.scope)

        def listing(b: ContainerBroker) -> tuple[DbInfo, bytes]:
            info = b.live_info()
            return info, object_listing(b.list_objects(query))

        info, body = await self._db(path).call(listing)
        return info_response(200, info, body)

    async def DELETE(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        ts = rq.timestamp(headers)
        if path.obj is not None:
            return await self._object_rows(path, [ObjectRow(path.obj, ts, deleted=True)], 204)
        targets = targets_from_headers(headers)
        info = await self._db(path).call(lambda b: _delete_container(b, ts))
        await report_to(targets, _report(info), self.account_timeout)
        return info_response(204, info)

    async def POST(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        """Metadata only: newest timestamp per key; the container must exist. Or, with
        ``X-Backend-Merge-Rows``, a batch of object rows (``row_batch.py``)."""
        if headers.get(row_batch.HEADER.lower()) == "true":
            if path.obj is not None:
                raise rq.bad("Rows go to the container's path")
            body = await read_body(request, row_batch.MAX_BODY)
            return await self._object_rows(path, row_batch.decode(body, _batch_row), 202)
        ts = rq.timestamp(headers)
        meta = CONTAINER_META.from_headers(headers, ts)

        def post(b: ContainerBroker) -> DbInfo:
            b.live_info()
            b.update_metadata(meta, CONTAINER_META.check_totals)
            return b.info()

        return info_response(204, await self._db(path).call(post))

    async def _object_rows(self, path: rq.DbPath, rows: list[ObjectRow], status: int) -> Response:
        db = self._db(path)

        async def merge() -> None:
            await asyncio.gather(*(db.merge_row(row) for row in rows))  # one group commit

        try:
            await merge()
        except DbNotFound:
            if not is_reserved(path.account):
                raise DbNotFound(f"Container /{path.account}/{path.container}") from None
            # a reserved account's containers (the expirer's queue) are made on first use
            identity = DbIdentity(path.account, path.container, Timestamp.now(), Timestamp.now())
            await db.call(lambda b: create_missing(b, identity))
            await merge()
        key = (path.device, path.partition, path.account, path.container)
        self.reporter.changed(key, _measure(db))
        return Response(status_code=status)


def _object_row(name: str, headers: dict[str, str]) -> ObjectRow:
    content_type = headers.get("x-content-type", "")
    etag = headers.get("x-etag", "").strip().strip('"')
    if len(content_type.encode()) > MAX_CONTENT_TYPE:
        raise rq.bad(f"X-Content-Type longer than {MAX_CONTENT_TYPE}")
    if len(etag) > MAX_ETAG or not etag.isprintable():
        raise rq.bad("Invalid X-Etag")
    return ObjectRow(name, rq.timestamp(headers), rq.count(headers, "x-size"), content_type, etag)


def _batch_row(op: str, name: str, headers: dict[str, str]) -> ObjectRow:
    if op == "PUT":
        return _object_row(name, headers)
    return ObjectRow(name, rq.timestamp(headers), deleted=True)


def _delete_container(b: ContainerBroker, ts: Timestamp) -> DbInfo:
    info = b.live_info()
    if info.object_count:
        raise ContainerNotEmpty(info.name, info.object_count)
    after = b.delete_db(ts)
    if not after.is_deleted:  # a newer PUT stands
        raise PutLater(info.name, after.put_timestamp)
    return after


def _report(info: DbInfo) -> ContainerReport:
    return ContainerReport(
        info.account,
        info.container or "",
        info.put_timestamp,
        info.delete_timestamp,
        Timestamp.now(),
        info.object_count,
        info.bytes_used,
    )


def _measure(db: AsyncDb[ContainerBroker]) -> Callable[[], Awaitable[ContainerReport | None]]:
    async def measure() -> ContainerReport | None:
        return _report(await db.call(Broker.info))

    return measure


def create_container_server(
    registry: DbRegistry, reporter: AccountReporter | None = None
) -> ASGIApp:
    return create_app(ContainerServer(registry, reporter or AccountReporter(None)))

"""The account server: Swift's backend contract for account databases.

    PUT|HEAD|GET|DELETE|POST /<device>/<partition>/<account>
    PUT                      /<device>/<partition>/<account>/<container>   (container rows)
    REPLICATE                /<device>/<partition>/<hash>          (see ``db_server.py``)

An account PUT creates the database (201) or raises its put timestamp (202; 409 when
older than its delete). A container row carries ``X-Put-Timestamp``,
``X-Delete-Timestamp``, ``X-Object-Count``, ``X-Bytes-Used`` (and the container server's
``X-Backend-Stats-Timestamp``); it needs a live account and answers 201, or 204 when the
row says the container is deleted. DELETE marks the account deleted at once; emptying it
is the reaper's job, as in Swift. A newer PUT revives a deleted account with its rows.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from stratus.objectstore.dbs import db_request as rq
from stratus.objectstore.dbs.account_broker import AccountBroker
from stratus.objectstore.dbs.broker import Broker, DbInfo
from stratus.objectstore.dbs.db_responses import container_listing, info_response
from stratus.objectstore.dbs.db_server import (
    DbServer,
    Handler,
    create_app,
    create_missing,
    put_db,
)
from stratus.objectstore.dbs.dbfile import DbIdentity
from stratus.objectstore.dbs.metadata import ACCOUNT_META
from stratus.objectstore.dbs.registry import AsyncDb, DbRegistry
from stratus.objectstore.dbs.rows import ContainerRow
from stratus.objectstore.reserved import is_reserved
from stratus.objectstore.storage.timestamp import Timestamp


class AccountServer(DbServer):
    min_parts, max_parts = 3, 4

    def handlers(self) -> dict[str, Handler]:
        return {
            "PUT": self.PUT,
            "HEAD": self.HEAD,
            "GET": self.GET,
            "DELETE": self.DELETE,
            "POST": self.POST,
        }

    def by_hash(self, device: str, partition: int, name_hash: str) -> AsyncDb[Broker[object]]:
        return self.registry.account_by_hash(device, partition, name_hash)  # type: ignore[return-value]

    def _db(self, path: rq.DbPath) -> AsyncDb[AccountBroker]:
        return self.registry.account(path.device, path.partition, path.account)

    async def PUT(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        if path.container is not None:
            return await self._container_row(path, headers)
        ts = rq.timestamp(headers)
        meta = ACCOUNT_META.from_headers(headers, ts)
        identity = DbIdentity(path.account, None, ts, ts)
        created, info = await self._db(path).call(lambda b: put_db(b, identity, meta, ACCOUNT_META))
        return info_response(201 if created else 202, info)

    async def HEAD(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        self._no_container(path)
        return info_response(204, await self._db(path).call(Broker.live_info))

    async def GET(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        self._no_container(path)
        query = rq.listing_query(request.scope)

        def listing(b: AccountBroker) -> tuple[DbInfo, bytes]:
            info = b.live_info()
            return info, container_listing(b.list_containers(query))

        info, body = await self._db(path).call(listing)
        return info_response(200, info, body)

    async def DELETE(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        self._no_container(path)
        ts = rq.timestamp(headers)

        def delete(b: AccountBroker) -> DbInfo:
            b.live_info()
            return b.delete_db(ts)

        return info_response(204, await self._db(path).call(delete))

    async def POST(self, request: Request, path: rq.DbPath, headers: dict[str, str]) -> Response:
        self._no_container(path)
        ts = rq.timestamp(headers)
        meta = ACCOUNT_META.from_headers(headers, ts)

        def post(b: AccountBroker) -> DbInfo:
            b.live_info()
            b.update_metadata(meta, ACCOUNT_META.check_totals)
            return b.info()

        return info_response(204, await self._db(path).call(post))

    async def _container_row(self, path: rq.DbPath, headers: dict[str, str]) -> Response:
        assert path.container is not None
        row = ContainerRow(
            path.container,
            rq.timestamp(headers, "x-put-timestamp"),
            rq.optional_timestamp(headers, "x-delete-timestamp") or Timestamp(0),
            rq.optional_timestamp(headers, "x-backend-stats-timestamp") or Timestamp.now(),
            rq.count(headers, "x-object-count", 0),
            rq.count(headers, "x-bytes-used", 0),
        )

        def put(b: AccountBroker) -> ContainerRow:
            if is_reserved(path.account):  # made on first use: no client ever PUTs it
                now = Timestamp.now()
                create_missing(b, DbIdentity(path.account, None, now, now))
            b.live_info()
            return b.put_container(row)

        merged = await self._db(path).call(put)
        return Response(status_code=204 if merged.deleted else 201)

    @staticmethod
    def _no_container(path: rq.DbPath) -> None:
        if path.container is not None:
            raise rq.bad("Only PUT applies to a container row on the account server")


def create_account_server(registry: DbRegistry) -> ASGIApp:
    return create_app(AccountServer(registry))

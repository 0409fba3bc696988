"""``/os-aggregates`` (admin): host aggregates, their hosts, metadata and zone.

The scheduler reads these rows (``scheduler/host_state.py``): an aggregate's zone
becomes its hosts' zone, its metadata what ``aggregate_instance_extra_specs`` match.
After each change the schedulers are told to reload (``host_changes.py``).

Changes read-modify-write one row (hosts and metadata are JSON): they hold the row
``FOR UPDATE`` and, within this process, one lock, so none is lost. The rule that a
host is in one zone only spans rows, and like Nova's it is checked, not locked, across
API processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.db.types import utcnow
from stratus.common.errors import Conflict, NotFound
from stratus.compute.api import aggregate_rules as rules
from stratus.compute.api.common import ADMIN_ONLY, bad, body_of, not_found
from stratus.compute.api.host_changes import announce_host_change
from stratus.compute.api.host_zones import host_zones
from stratus.compute.api.microversion import since
from stratus.compute.api.state import state_of
from stratus.compute.models import Aggregate, ComputeNode

routes = Routes("os_compute_api")
_LOCK = rules.AGGREGATE_CHANGES


def _stamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def aggregate_view(req: ApiRequest, agg: Aggregate, *, members: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "availability_zone": agg.availability_zone,
        "created_at": _stamp(agg.created_at),
        "deleted": False,
        "deleted_at": None,
        "id": agg.id,
        "name": agg.name,
        "updated_at": _stamp(agg.updated_at),
    }
    if members:
        view["hosts"] = list(agg.hosts)
        view["metadata"] = dict(agg.metadata_)
    if since(req, 41):
        view["uuid"] = agg.uuid
    return view


def _one(req: ApiRequest, agg: Aggregate) -> Response:
    return json_response({"aggregate": aggregate_view(req, agg)})


async def _check_name_free(s: AsyncSession, name: str, agg_id: int | None) -> None:
    query = sa.select(Aggregate.id).where(Aggregate.name == name)
    if agg_id is not None:
        query = query.where(Aggregate.id != agg_id)
    if await s.scalar(query) is not None:
        raise _name_taken(name)


def _name_taken(name: str) -> Conflict:
    return Conflict("compute.aggregate.exists", f"Aggregate {name} already exists.")


@asynccontextmanager
async def _changing(req: ApiRequest) -> AsyncIterator[tuple[AsyncSession, Aggregate]]:
    """The aggregate of the path, locked for a change committed when the block ends."""
    st = state_of(req)
    agg_id = rules.aggregate_id(req.params["aggregate_id"])
    name = None
    try:
        async with _LOCK, st.db.session() as s:
            query = sa.select(Aggregate).where(Aggregate.id == agg_id).with_for_update()
            agg = (await s.scalars(query)).one_or_none()
            if agg is None:
                raise not_found("Aggregate", str(agg_id))
            yield s, agg
            name = agg.name
            agg.updated_at = utcnow()
    except IntegrityError:  # another API process took the name meanwhile
        raise _name_taken(name or "") from None
    await announce_host_change(st.bus)


@routes.route("GET", "/v2.1/os-aggregates", rule=ADMIN_ONLY)
async def list_aggregates(req: ApiRequest) -> Response:
    async with state_of(req).db.session() as s:
        found = (await s.scalars(sa.select(Aggregate).order_by(Aggregate.id))).all()
    return json_response({"aggregates": [aggregate_view(req, a) for a in found]})


@routes.route("POST", "/v2.1/os-aggregates", rule=ADMIN_ONLY)
async def create_aggregate(req: ApiRequest) -> Response:
    name, zone = rules.create_fields(await body_of(req, "aggregate"))
    agg = Aggregate(name=name, hosts=[], metadata_={})
    rules.set_zone(agg, zone)
    try:
        async with _LOCK, state_of(req).db.session() as s:
            await _check_name_free(s, name, None)
            s.add(agg)
    except IntegrityError:
        raise _name_taken(name) from None
    return json_response({"aggregate": aggregate_view(req, agg, members=False)})


@routes.route("GET", "/v2.1/os-aggregates/{aggregate_id}", rule=ADMIN_ONLY)
async def show_aggregate(req: ApiRequest) -> Response:
    agg_id = rules.aggregate_id(req.params["aggregate_id"])
    async with state_of(req).db.session() as s:
        agg = await s.get(Aggregate, agg_id)
    if agg is None:
        raise not_found("Aggregate", str(agg_id))
    return _one(req, agg)


@routes.route("PUT", "/v2.1/os-aggregates/{aggregate_id}", rule=ADMIN_ONLY)
async def update_aggregate(req: ApiRequest) -> Response:
    fields = rules.update_fields(await body_of(req, "aggregate"))
    async with _changing(req) as (s, agg):
        if "name" in fields:
            await _check_name_free(s, fields["name"], agg.id)
            agg.name = fields["name"]
        if rules.ZONE_KEY in fields:
            before = await host_zones(s, agg.hosts)
            rules.set_zone(agg, fields[rules.ZONE_KEY])
            refuse = rules.refusal(f"Cannot update aggregate {agg.id}.")
            await rules.check_zones(s, agg, agg.hosts, before, refuse)
    return _one(req, agg)


@routes.route("DELETE", "/v2.1/os-aggregates/{aggregate_id}", rule=ADMIN_ONLY)
async def delete_aggregate(req: ApiRequest) -> Response:
    async with _changing(req) as (s, agg):
        if agg.hosts:
            raise rules.refusal(f"Cannot remove aggregate {agg.id}.")("Host aggregate is not empty")
        await s.delete(agg)
    return Response(status_code=200)


async def _add_host(req: ApiRequest, body: Any) -> Response:
    host = rules.host_of("add_host", body)
    async with _changing(req) as (s, agg):
        if await s.get(ComputeNode, host) is None:
            raise _unknown_host(host)
        if host in agg.hosts:
            raise Conflict(
                "compute.aggregate.host_exists", f"Aggregate {agg.id} already has host {host}."
            )
        before = await host_zones(s, [host])
        agg.hosts = [*agg.hosts, host]
        refuse = rules.refusal(f"Cannot add host to aggregate {agg.id}.")
        await rules.check_zones(s, agg, [host], before, refuse)
    return _one(req, agg)


async def _remove_host(req: ApiRequest, body: Any) -> Response:
    host = rules.host_of("remove_host", body)
    async with _changing(req) as (s, agg):
        if host not in agg.hosts:
            if await s.get(ComputeNode, host) is None:
                raise _unknown_host(host)
            raise NotFound(
                "compute.aggregate.host_not_found", f"Aggregate {agg.id} has no host {host}."
            )
        before = await host_zones(s, [host])
        agg.hosts = [h for h in agg.hosts if h != host]
        refuse = rules.refusal(f"Cannot remove host from aggregate {agg.id}.")
        await rules.check_zones(s, agg, [host], before, refuse)
    return _one(req, agg)


async def _set_metadata(req: ApiRequest, body: Any) -> Response:
    changes = rules.metadata_of(body)
    async with _changing(req) as (s, agg):
        before = await host_zones(s, agg.hosts)
        rules.merge_metadata(agg, changes)
        refuse = rules.refusal(f"Cannot update metadata of aggregate {agg.id}.")
        await rules.check_zones(s, agg, agg.hosts, before, refuse)
    return _one(req, agg)


def _unknown_host(host: str) -> NotFound:
    return NotFound("compute.host.not_found", f"Compute host {host} could not be found.")


_ACTIONS: dict[str, Callable[[ApiRequest, Any], Awaitable[Response]]] = {
    "add_host": _add_host,
    "remove_host": _remove_host,
    "set_metadata": _set_metadata,
}


@routes.route("POST", "/v2.1/os-aggregates/{aggregate_id}/action", rule=ADMIN_ONLY)
async def aggregate_action(req: ApiRequest) -> Response:
    data = await req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise bad("The action body must be an object with exactly one action.")
    [(action, body)] = data.items()
    handler = _ACTIONS.get(action)
    if handler is None:
        raise bad(f"There is no such action: {action}")
    return await handler(req, body)

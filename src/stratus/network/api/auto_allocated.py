"""``/v2.0/auto-allocated-topology/{project_id}``: a ready network for a project that has
none (what a compute boot with ``networks: auto`` asks for). ``?fields=dry-run`` only
checks that one could be made; DELETE removes it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.network import access, auto_allocate
from stratus.network.api.common import V2, WRITE
from stratus.network.errors import missing
from stratus.network.retry import retrying
from stratus.network.state import state_of

routes = Routes("network")
ITEM = V2 + "/auto-allocated-topology/{project_id}"
DRY_RUN = "dry-run"


def _answer(network_id: str, project: str) -> Response:
    body = {"id": network_id, "tenant_id": project, "project_id": project}
    return json_response({"auto_allocated_topology": body})


@routes.route("GET", ITEM, rule=WRITE)
async def get_auto_allocated_topology(req: ApiRequest) -> Response:
    project = req.params["project_id"]
    access.check_owner(req.ctx, project, "get_auto_allocated_topology")
    st = state_of(req)
    fields = {f for v in req.query.getlist("fields") for f in v.split(",") if f}
    if DRY_RUN in fields:
        async with st.db.session() as session:
            await auto_allocate.default_external(session)
        return _answer("dry-run=pass", project)

    async def work(session: AsyncSession) -> str:
        return await auto_allocate.allocate(session, st.settings, project)

    async with st.lock(project):
        network_id = await retrying(st.db, work)
    return _answer(network_id, project)


@routes.route("DELETE", ITEM, rule=WRITE)
async def delete_auto_allocated_topology(req: ApiRequest) -> Response:
    project = req.params["project_id"]
    access.check_owner(req.ctx, project, "delete_auto_allocated_topology")
    async with state_of(req).db.session() as session:
        if not await auto_allocate.release(session, project):
            raise missing(
                "TopologyNotFound", f"No auto-allocated topology found for project {project}."
            )
    return Response(status_code=204)

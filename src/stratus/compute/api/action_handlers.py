"""``POST /servers/{id}/action``: one small handler per Nova action name.

Each parses its body, then goes through ``server_actions.start_action`` (state machine,
lock, instance action, cast) or, for lock/unlock and the console, acts directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from stratus.common.asgi.policy import enforce
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.compute import states
from stratus.compute.api import quotas, snapshot_image
from stratus.compute.api.common import WRITE, bad
from stratus.compute.api.host_zones import server_zones
from stratus.compute.api.microversion import since
from stratus.compute.api.registry_view import agents_up
from stratus.compute.api.server_actions import check_lock, record_action, start_action
from stratus.compute.api.server_create import flavor_copy, resolve_flavor, resolve_image
from stratus.compute.api.server_request import name_of, ref_of
from stratus.compute.api.server_views import load_server, server_view
from stratus.compute.api.state import state_of
from stratus.compute.conductor_rpc import GetServerConsole
from stratus.compute.rpc import CONDUCTOR_TOPIC
from stratus.compute.states import Action, TaskState, VmState

routes = Routes("os_compute_api")
ActionHandler = Callable[[ApiRequest, str, Any], Awaitable[Response]]
ACCEPTED = 202


def _accepted() -> Response:
    return Response(status_code=ACCEPTED)


def _simple(action: Action, name: str, status: int = ACCEPTED) -> ActionHandler:
    async def handle(req: ApiRequest, server_id: str, body: Any) -> Response:
        await start_action(req, server_id, action, name)
        return Response(status_code=status)

    return handle


def _admin(req: ApiRequest, name: str) -> None:
    enforce(req.ctx.is_admin, f"os_compute_api:{name}")


async def reboot(req: ApiRequest, server_id: str, body: Any) -> Response:
    kind = body.get("type") if isinstance(body, dict) else None
    if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
        raise bad(f"Invalid input for field/attribute type. Value: {kind}.")
    action = Action.REBOOT_HARD if kind.upper() == "HARD" else Action.REBOOT
    await start_action(req, server_id, action, "reboot")
    return _accepted()


async def resize(req: ApiRequest, server_id: str, body: Any) -> Response:
    if not isinstance(body, dict) or "flavorRef" not in body:
        raise bad("'flavorRef' is a required property")
    st = state_of(req)
    async with st.db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
        flavor = await resolve_flavor(req, s, ref_of(body["flavorRef"], "flavorRef"))
        if flavor.id == (inst.flavor or {}).get("id"):
            raise bad("When resizing, instances must change flavor!")
        old = inst.flavor or {}
        grow = {
            "cores": max(0, flavor.vcpus - int(old.get("vcpus", 0))),
            "ram": max(0, flavor.memory_mb - int(old.get("memory_mb", 0))),
        }
        if any(grow.values()):  # the growth must fit (Nova counts the new flavor's delta)
            await quotas.allowed_count(st, s, inst.project_id, grow, min_count=1, max_count=1)
    await start_action(
        req,
        server_id,
        Action.RESIZE,
        "resize",
        params={"flavor_id": flavor.id},
        values={"new_flavor": flavor_copy(flavor)},
    )
    return _accepted()


async def rebuild(req: ApiRequest, server_id: str, body: Any) -> Response:
    if not isinstance(body, dict) or "imageRef" not in body:
        raise bad("'imageRef' is a required property")
    image_ref = ref_of(body["imageRef"], "imageRef")
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
        flavor = await resolve_flavor(req, s, str((inst.flavor or {}).get("id", "")))
    image = await resolve_image(req, image_ref, flavor)
    values: dict[str, Any] = {"image_ref": image.id, "image_properties": dict(image.properties)}
    if "name" in body:
        values["name"] = name_of(body["name"])
    started = await start_action(
        req, server_id, Action.REBUILD, "rebuild", params={"image_ref": image.id}, values=values
    )
    async with state_of(req).db.session() as s:
        fresh = await load_server(s, req.ctx, started.instance.id)
        zones = await server_zones(s, [fresh])
    view = server_view(req, fresh, zones, show=True) | {"adminPass": body.get("adminPass") or ""}
    return json_response({"server": view}, status=ACCEPTED)


async def create_image(req: ApiRequest, server_id: str, body: Any) -> Response:
    if not isinstance(body, dict) or "name" not in body:
        raise bad("'name' is a required property")
    name = name_of(body["name"])
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise bad("Invalid input for field/attribute metadata.")
    st = state_of(req)
    async with st.db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
        check_lock(req, inst)
        task = TaskState(inst.task_state) if inst.task_state else None
        states.begin(Action.SNAPSHOT, inst.id, VmState(inst.vm_state), task)  # 409: no image
    base = await st.images.get(req.ctx, inst.image_ref) if inst.image_ref else None
    props = {str(k): str(v) for k, v in metadata.items()}
    attrs = snapshot_image.attributes(req.ctx, inst, name, props, base)
    image_id = await st.images.create_snapshot(req.ctx, attrs)
    params = {"image_id": image_id, "disk_format": str(attrs["disk_format"]),
              "container_format": str(attrs["container_format"])}  # fmt: skip
    try:
        await start_action(req, server_id, Action.SNAPSHOT, "createImage", params=params,
                           token=req.ctx.auth_token)  # fmt: skip
    except BaseException:
        await st.images.delete(req.ctx, image_id)  # a concurrent action won: no orphan
        raise
    if since(req, 45):
        return json_response({"image_id": image_id}, status=ACCEPTED)
    return Response(status_code=ACCEPTED, headers={"Location": st.images.url_of(image_id)})


async def _host_param(req: ApiRequest, body: Any, name: str) -> dict[str, str]:
    host = body.get("host") if isinstance(body, dict) else None
    if host is not None and (not isinstance(host, str) or not host):
        raise bad(f"Invalid input for field/attribute host. Value: {host}.")
    _admin(req, name)
    return {"host": host} if host else {}


async def migrate(req: ApiRequest, server_id: str, body: Any) -> Response:
    params = await _host_param(req, body, "os-migrate-server:migrate")
    await start_action(req, server_id, Action.MIGRATE, "migrate", params=params)
    return _accepted()


async def live_migrate(req: ApiRequest, server_id: str, body: Any) -> Response:
    if not isinstance(body, dict) or "block_migration" not in body or "host" not in body:
        raise bad("'block_migration' and 'host' are required properties")
    params = await _host_param(req, body, "os-migrate-server:migrate_live")
    await start_action(req, server_id, Action.LIVE_MIGRATE, "live-migration", params=params)
    return _accepted()


async def evacuate(req: ApiRequest, server_id: str, body: Any) -> Response:
    """Rebuild elsewhere a server whose host is down (Nova refuses while it is up)."""
    params = await _host_param(req, body, "os-evacuate")
    st = state_of(req)
    async with st.db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
    if inst.host and (await agents_up(st.bus)).get(inst.host, False):
        raise bad(f"Compute service of {inst.host} is still in use.")
    await start_action(req, server_id, Action.EVACUATE, "evacuate", params=params)
    return Response(status_code=200)


async def lock(req: ApiRequest, server_id: str, body: Any) -> Response:
    reason = body.get("locked_reason") if isinstance(body, dict) and since(req, 73) else None
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise bad(f"Invalid input for field/attribute locked_reason. Value: {reason}.")
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
        owner = inst.project_id == req.ctx.project_id
        inst.locked, inst.locked_reason = True, reason
        inst.locked_by = "owner" if owner else "admin"
        await record_action(s, req, inst, "lock")
    return _accepted()


async def unlock(req: ApiRequest, server_id: str, body: Any) -> Response:
    async with state_of(req).db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
        if inst.locked_by == "admin":
            enforce(req.ctx.is_admin, "os_compute_api:os-lock-server:unlock:unlock_override")
        inst.locked, inst.locked_by, inst.locked_reason = False, None, None
        await record_action(s, req, inst, "unlock")
    return _accepted()


async def console_output(req: ApiRequest, server_id: str, body: Any) -> Response:
    length = body.get("length") if isinstance(body, dict) else None
    if isinstance(length, str) and length.lstrip("-").isdigit():
        length = int(length)
    if length is not None and (
        isinstance(length, bool) or not isinstance(length, int) or length < -1
    ):
        raise bad(f"Invalid input for field/attribute length. Value: {length}.")
    st = state_of(req)
    async with st.db.session() as s:
        inst = await load_server(s, req.ctx, server_id)
    ask = GetServerConsole(instance_id=inst.id, length=None if length in (None, -1) else length)
    reply = await st.bus.call(CONDUCTOR_TOPIC, ask)
    return json_response({"output": reply.output})


HANDLERS: dict[str, ActionHandler] = {
    "reboot": reboot,
    "os-stop": _simple(Action.STOP, "stop"),
    "os-start": _simple(Action.START, "start"),
    "pause": _simple(Action.PAUSE, "pause"),
    "unpause": _simple(Action.UNPAUSE, "unpause"),
    "suspend": _simple(Action.SUSPEND, "suspend"),
    "resume": _simple(Action.RESUME, "resume"),
    "confirmResize": _simple(Action.CONFIRM_RESIZE, "confirmResize", 204),  # as Nova
    "revertResize": _simple(Action.REVERT_RESIZE, "revertResize"),
    "forceDelete": _simple(Action.FORCE_DELETE, "forceDelete"),
    "resize": resize,
    "rebuild": rebuild,
    "createImage": create_image,
    "migrate": migrate,
    "os-migrateLive": live_migrate,
    "evacuate": evacuate,
    "lock": lock,
    "unlock": unlock,
    "os-getConsoleOutput": console_output,
}


@routes.route("POST", "/v2.1/servers/{server_id}/action", rule=WRITE)
async def server_action(req: ApiRequest) -> Response:
    data = await req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise bad("Malformed request body: exactly one action expected")
    ((name, body),) = data.items()
    handler = HANDLERS.get(name)
    if handler is None:
        raise bad(f"There is no such action: {name}")
    return await handler(req, req.params["server_id"], body)

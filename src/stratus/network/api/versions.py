"""Version discovery: ``GET /`` lists v2.0; ``GET /v2.0`` lists its collections."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.asgi.policy import AUTHENTICATED, PUBLIC
from stratus.common.asgi.routing import ApiRequest, Routes, json_response

routes = Routes("network")
COLLECTIONS = {
    "network": "networks",
    "subnet": "subnets",
    "port": "ports",
    "security_group": "security-groups",
    "security_group_rule": "security-group-rules",
    "quota": "quotas",
    "router": "routers",
    "floatingip": "floatingips",
}


def _base(req: ApiRequest) -> str:
    return str(req.raw.base_url).rstrip("/")


@routes.route("GET", "/", rule=PUBLIC)
async def list_versions(req: ApiRequest) -> Response:
    link = {"href": f"{_base(req)}/v2.0/", "rel": "self"}
    return json_response({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]})


async def _resources(req: ApiRequest) -> Response:
    base = _base(req)
    resources = [
        {
            "name": name,
            "collection": collection,
            "links": [{"href": f"{base}/v2.0/{collection}", "rel": "self"}],
        }
        for name, collection in COLLECTIONS.items()
    ]
    return json_response({"resources": resources})


@routes.route("GET", "/v2.0", rule=AUTHENTICATED)
async def show_version(req: ApiRequest) -> Response:
    return await _resources(req)


@routes.route("GET", "/v2.0/", rule=AUTHENTICATED)
async def show_version_slash(req: ApiRequest) -> Response:
    return await _resources(req)

"""Version discovery: ``GET /`` lists the API versions, ``GET /v3`` describes v3.

Clients (keystoneauth, openstacksdk) start here to find the v3 endpoint from whatever URL
they were given, so both answers are public and shaped exactly as Keystone's.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.asgi.policy import PUBLIC
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.identity.state import base_url

routes = Routes("identity")

API_VERSION = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def v3_version(base: str) -> dict[str, Any]:
    return {
        "id": API_VERSION,
        "status": "stable",
        "updated": UPDATED,
        "links": [
            {"rel": "self", "href": f"{base}/v3/"},
            {
                "rel": "describedby",
                "type": "text/html",
                "href": "https://docs.openstack.org/api-ref/identity/v3/",
            },
        ],
        "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
    }


@routes.route("GET", "/", rule=PUBLIC)
async def get_versions(req: ApiRequest) -> Response:
    return json_response({"versions": {"values": [v3_version(base_url(req))]}}, status=300)


@routes.route("GET", "/v3", rule=PUBLIC)
async def get_v3(req: ApiRequest) -> Response:
    return json_response({"version": v3_version(base_url(req))})


@routes.route("GET", "/v3/", rule=PUBLIC)
async def get_v3_slash(req: ApiRequest) -> Response:
    return await get_v3(req)

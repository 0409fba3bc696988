"""Version discovery: ``GET /`` lists v2.0 and v2.1; ``GET /v2.1`` describes v2.1 with
the microversion range actually served (``microversion.MIN``..``MAX``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.asgi.policy import AUTHENTICATED, PUBLIC
from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.compute.api.microversion import MAX, MIN

routes = Routes("os_compute_api")


def _doc(req: ApiRequest, vid: str) -> dict[str, Any]:
    base = str(req.raw.base_url).rstrip("/")
    if vid == "v2.0":
        return {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/v2/"}],
        }
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAX),
        "min_version": str(MIN),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
    }


def _full(req: ApiRequest, vid: str) -> dict[str, Any]:
    doc = _doc(req, vid)
    doc["links"].append(
        {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
    )
    suffix = "2" if vid == "v2.0" else "2.1"
    doc["media-types"] = [
        {
            "base": "application/json",
            "type": f"application/vnd.openstack.compute+json;version={suffix}",
        }
    ]
    return {"version": doc}


@routes.route("GET", "/", rule=PUBLIC)
async def versions(req: ApiRequest) -> Response:
    return json_response({"versions": [_doc(req, "v2.0"), _doc(req, "v2.1")]})


@routes.route("GET", "/v2.1", rule=PUBLIC)
async def version_v21(req: ApiRequest) -> Response:
    return json_response(_full(req, "v2.1"))


@routes.route("GET", "/v2.1/", rule=PUBLIC)
async def version_v21_slash(req: ApiRequest) -> Response:
    return json_response(_full(req, "v2.1"))


@routes.route("GET", "/v2.1/extensions", rule=AUTHENTICATED)
async def extensions(req: ApiRequest) -> Response:
    """Nova's deprecated extension list: everything is in the core API now."""
    return json_response({"extensions": []})

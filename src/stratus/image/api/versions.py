"""Version discovery: ``GET /`` and ``GET /versions`` list the v2 minor versions served.

v2.9 is the newest: interoperable import (2.6), hidden images and multihash (2.7),
multiple stores (2.8) and the ``copy-image`` import method (2.9).
"""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.asgi.policy import PUBLIC
from stratus.common.asgi.routing import ApiRequest, Routes, json_response

routes = Routes("image")
CURRENT = 9


def _versions(req: ApiRequest) -> dict[str, object]:
    base = str(req.raw.base_url).rstrip("/")
    link = [{"rel": "self", "href": f"{base}/v2/"}]
    return {
        "versions": [
            {"id": f"v2.{minor}", "status": "CURRENT" if minor == CURRENT else "SUPPORTED",
             "links": link}
            for minor in range(CURRENT, -1, -1)
        ]
    }  # fmt: skip


@routes.route("GET", "/", rule=PUBLIC)
async def root(req: ApiRequest) -> Response:
    return json_response(_versions(req), status=300)


@routes.route("GET", "/versions", rule=PUBLIC)
async def versions(req: ApiRequest) -> Response:
    return json_response(_versions(req))

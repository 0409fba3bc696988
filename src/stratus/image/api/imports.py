"""Interoperable image import: ``/v2/info/import``, ``/v2/info/stores``, staging, import.

``glance-direct``: the data is first staged (``PUT /stage``, status ``uploading``),
then ``POST /import`` answers 202 and moves it into the chosen store in the background
(``importing``, then ``active``). ``copy-image``: an active image's data is copied into
more stores. Both run after the 202, as Glance's tasks do, and the image's status or
``stores`` tell the client when they are done.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from starlette.responses import Response

from stratus.common.asgi.routing import ApiRequest, Routes, json_response
from stratus.common.errors import Conflict, InvalidInput
from stratus.image import access, transitions
from stratus.image import models as m
from stratus.image.api.common import READ, WRITE
from stratus.image.api.data import request_chunks, store_data, upload_limit
from stratus.image.ingest import ingest
from stratus.image.state import ImageState, state_of

log = logging.getLogger(__name__)
routes = Routes("image")
METHODS = ("glance-direct", "copy-image")


@routes.route("GET", "/v2/info/import", rule=READ)
async def get_image_import(req: ApiRequest) -> Response:
    return json_response(
        {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": list(METHODS),
            }
        }
    )


@routes.route("GET", "/v2/info/stores", rule=READ)
async def get_stores(req: ApiRequest) -> Response:
    st = state_of(req)
    stores = []
    for name in st.stores:
        entry: dict[str, object] = {"id": name, "description": f"The {name} store"}
        if name == st.default_store:
            entry["default"] = True
        stores.append(entry)
    return json_response({"stores": stores})


@routes.route("PUT", "/v2/images/{image_id}/stage", rule=WRITE)
async def stage(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        image_id, owner = image.id, image.owner
    limit = await upload_limit(st, owner, req.header("content-length"))
    await transitions.begin(st.db, image_id, ("queued",), "uploading")
    try:
        await _stage(st, image_id, request_chunks(req), limit)
    except BaseException:
        await transitions.settle(st.db, image_id, "uploading", "queued")
        raise
    return Response(status_code=204)


async def _stage(st: ImageState, image_id: str, chunks: AsyncIterator[bytes], limit: int) -> None:
    """Staged data is stored as raw bytes; it is inspected when imported."""
    await ingest(st.stores["staging"], image_id, chunks, disk_format="raw", limit=limit)


@routes.route("POST", "/v2/images/{image_id}/import", rule=WRITE)
async def import_image(req: ApiRequest) -> Response:
    st = state_of(req)
    body = await req.json()
    method = body.get("method", {}).get("name") if isinstance(body, dict) else None
    if method not in METHODS:
        raise InvalidInput("image.import.method", f"Import method {method!r} is not supported")
    stores = _stores(st, body)
    async with st.db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        image_id, disk_format, status = image.id, image.disk_format, image.status
        held = {loc["store"] for loc in image.locations or []}
    if method == "glance-direct":
        if status != "uploading":
            raise Conflict("image.import.status", f"Image status {status}: stage the data first")
        if not disk_format:
            raise InvalidInput("image.formats.missing", "disk_format must be set before import")
        await transitions.begin(st.db, image_id, ("uploading",), "importing")
        st.background(_import_staged(st, image_id, stores[0], disk_format))
    else:
        if status != "active":
            raise Conflict("image.import.status", f"Only active images can be copied ({status})")
        missing = [name for name in stores if name not in held]
        st.background(_copy(st, image_id, missing, disk_format or "raw"))
    return Response(status_code=202)


def _stores(st: ImageState, body: dict[str, object]) -> list[str]:
    if body.get("all_stores"):
        return [name for name in st.stores if name != "staging"]
    given = body.get("stores") or [st.default_store]
    if not isinstance(given, list) or not all(isinstance(n, str) for n in given):
        raise InvalidInput("image.import.stores", "stores must be a list of store names")
    for name in given:
        if name not in st.stores or name == "staging":
            raise InvalidInput("image.store.unknown", f"Unknown store {name!r}")
    return list(given)


async def _import_staged(st: ImageState, image_id: str, store: str, disk_format: str) -> None:
    staging = st.stores["staging"]
    try:
        chunks = staging.get(image_id)
        await store_data(
            st, image_id, "importing", store, chunks, disk_format=disk_format, limit=1 << 62
        )
    except Exception:
        log.exception("image %s: import into %s failed", image_id, store)
    finally:
        await staging.delete(image_id)


async def _copy(st: ImageState, image_id: str, stores: list[str], disk_format: str) -> None:
    async with st.db.session() as s:
        image = await s.get(m.Image, image_id)
        source = image.locations[0] if image and image.locations else None
    if source is None:
        return
    for name in stores:
        try:
            chunks = st.store(source["store"]).get(source["key"])
            data = await ingest(
                st.store(name), image_id, chunks, disk_format=disk_format, limit=1 << 62
            )
            if not await transitions.add_location(st.db, image_id, name, data.key):
                await st.store(name).delete(data.key)
        except Exception:
            log.exception("image %s: copy into %s failed", image_id, name)

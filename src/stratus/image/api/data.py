"""``/v2/images/{id}/file``: upload and download image data, streamed both ways.

Upload needs the disk and container formats set first and a ``queued`` image; the store
is the default one or the one named by ``X-Image-Meta-Store``. Download answers 204 for
an image without data, honours one ``Range``, and sends ``Content-MD5`` (the hex
checksum, as Glance does, which clients verify).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from stratus.common.asgi.policy import PUBLIC
from stratus.common.asgi.routing import ApiRequest, Routes
from stratus.common.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    StratusError,
    TooLarge,
    Unavailable,
    Unsatisfiable,
)
from stratus.image import access, tickets, transitions
from stratus.image.api.common import READ, WRITE
from stratus.image.ingest import ingest
from stratus.image.models import Image
from stratus.image.state import ImageState, state_of
from stratus.image.stores import StoreError

log = logging.getLogger(__name__)
routes = Routes("image")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


async def request_chunks(req: ApiRequest) -> AsyncIterator[bytes]:
    async for chunk in req.raw.stream():
        if chunk:
            yield chunk


async def upload_limit(st: ImageState, owner: str | None, declared: str | None) -> int:
    """The most bytes this upload may bring: the size cap and the owner's byte quota."""
    limit = st.settings.max_image_size
    quota = st.settings.quota_image_bytes
    if quota >= 0:
        limit = min(limit, quota - await transitions.bytes_used(st.db, owner))
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge("image.too_large", f"Image size would exceed the limit of {limit} bytes")
    return max(limit, 0)


@routes.route("PUT", "/v2/images/{image_id}/file", rule=WRITE)
async def upload(req: ApiRequest) -> Response:
    st = state_of(req)
    store_name = req.header("x-image-meta-store") or st.default_store
    st.store(store_name)  # an unknown store is a 400 before anything changes
    async with st.db.session() as s:
        image = await access.load_owned(s, req.ctx, req.params["image_id"])
        if not image.disk_format or not image.container_format:
            raise InvalidInput(
                "image.formats.missing",
                "Properties disk_format, container_format must be set prior to saving data.",
            )
        image_id, disk_format, owner = image.id, image.disk_format, image.owner
    limit = await upload_limit(st, owner, req.header("content-length"))
    await transitions.begin(st.db, image_id, ("queued",), "saving")
    chunks = request_chunks(req)
    await store_data(
        st, image_id, "saving", store_name, chunks, disk_format=disk_format, limit=limit
    )
    return Response(status_code=204)


async def store_data(
    st: ImageState,
    image_id: str,
    status: str,
    store_name: str,
    chunks: AsyncIterator[bytes],
    *,
    disk_format: str,
    limit: int,
) -> None:
    """Ingest into ``store_name`` and activate; on failure settle the status and re-raise."""
    store = st.store(store_name)
    try:
        data = await ingest(store, image_id, chunks, disk_format=disk_format, limit=limit)
    except (InvalidInput, TooLarge):
        await transitions.settle(st.db, image_id, status, "queued")
        raise
    except BaseException as exc:
        await transitions.settle(st.db, image_id, status, "killed")
        if isinstance(exc, StoreError):
            raise Unavailable("image.store.failed", f"The image store failed: {exc}") from exc
        raise
    if not await transitions.activate(st.db, image_id, status, store_name, data):
        await store.delete(data.key)
        raise Forbidden("image.gone", f"Image {image_id} was deleted during the upload")


@routes.route("GET", "/v2/images/{image_id}/file", rule=READ)
async def download(req: ApiRequest) -> Response:
    st = state_of(req)
    async with st.db.session() as s:
        image = await access.load_visible(s, req.ctx, req.params["image_id"])
    return await send_data(st, req, image)


@routes.route("GET", tickets.PATH, rule=PUBLIC)
async def download_with_ticket(req: ApiRequest) -> Response:
    """A compute agent fetching a server's image with the ticket ``image.locate`` gave."""
    st = state_of(req)
    image_id = req.params["image_id"]
    tickets.check(st.ticket_secret, image_id, req.query.get("expires", ""),
                  req.query.get("signature", ""))  # fmt: skip
    async with st.db.session() as s:
        image = await s.get(Image, image_id)
    if image is None:
        raise NotFound("image.not_found", f"No image found with ID {image_id}")
    return await send_data(st, req, image)


async def send_data(st: ImageState, req: ApiRequest, image: Image) -> Response:
    """An image's data (or 204 without any), honouring one ``Range``."""
    if image.status == "deactivated" and not req.ctx.is_admin:
        raise Forbidden(
            "image.deactivated",
            "The requested image has been deactivated. Image data download is forbidden.",
        )
    has_data = image.status in ("active", "deactivated") and image.locations
    if not has_data or image.size is None:
        return Response(status_code=204)
    start, stop = _range(req.header("range"), image.size)
    location = next((loc for loc in image.locations if loc["store"] in st.stores), None)
    if location is None:
        raise Unavailable("image.store.missing", "No configured store holds this image's data")
    chunks = st.store(location["store"]).get(location["key"], start, stop)
    first = await _first(chunks)
    headers = {"Content-Length": str(stop - start), "Accept-Ranges": "bytes"}
    if image.checksum and (start, stop) == (0, image.size):
        headers["Content-MD5"] = image.checksum
    status = 200
    if (start, stop) != (0, image.size):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{image.size}"
    return StreamingResponse(
        _resume(first, chunks), status_code=status, headers=headers,
        media_type="application/octet-stream",
    )  # fmt: skip


def _range(header: str | None, size: int) -> tuple[int, int]:
    """One ``bytes=`` range as ``[start, stop)``; anything unsatisfiable is a 416."""
    if not header:
        return 0, size
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        raise Unsatisfiable("image.range", f"Invalid Range header {header!r}")
    first, last = match.groups()
    if first == "":
        start, stop = max(size - int(last), 0), size
    else:
        start = int(first)
        stop = min(int(last) + 1, size) if last else size
    if start >= stop or start >= size:
        raise Unsatisfiable("image.range", f"Range {header!r} is outside the image of {size} bytes")
    return start, stop


async def _first(chunks: AsyncIterator[bytes]) -> bytes:
    """Open the data before the response starts, so a missing file is a clean error."""
    try:
        return await anext(chunks, b"")
    except StoreError as exc:
        raise Unavailable("image.store.failed", str(exc)) from exc


async def _resume(first: bytes, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in chunks:
        yield chunk


__all__ = ["StratusError", "store_data", "upload_limit"]

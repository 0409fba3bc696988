"""``image.locate``: a server's image for the agent that builds it, with a download
ticket instead of a token (see ``rpc.py``)."""

from __future__ import annotations

import datetime as dt

from stratus.common.context import RequestContext
from stratus.common.errors import NotFound
from stratus.common.rpc import Dispatcher
from stratus.image import access, tickets
from stratus.image.rpc import ImageLocation, LocateImage
from stratus.image.state import ImageState


async def locate(st: ImageState, base_url: str, msg: LocateImage) -> ImageLocation:
    ctx = RequestContext(project_id=msg.project_id, roles=["member"])
    async with st.db.session() as s:
        image = await access.load_visible(s, ctx, msg.image_id)
    if image.status != "active" or image.size is None:
        raise NotFound("image.not_active", f"Image {image.id} is {image.status}, not active.")
    query, expires = tickets.query(st.ticket_secret, image.id, st.settings.ticket_lifetime)
    path = tickets.PATH.format(image_id=image.id)
    return ImageLocation(
        id=image.id, status=image.status, disk_format=image.disk_format or "",
        container_format=image.container_format or "", size=image.size,
        checksum=image.checksum,
        properties={k: str(v) for k, v in (image.properties or {}).items() if v is not None},
        download_url=f"{base_url.rstrip('/')}{path}?{query}",
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
    )  # fmt: skip


def register(dispatcher: Dispatcher, st: ImageState, base_url: str) -> None:
    @dispatcher.handler(LocateImage)
    async def _locate(ctx: RequestContext, msg: LocateImage) -> ImageLocation:
        return await locate(st, base_url, msg)

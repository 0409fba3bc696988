"""``image.locate`` and its download tickets, on the in-process bus and the image
service's real HTTP app: an agent gets a server's image (formats, size, checksum and a
URL it can fetch without a token) only for a project that may see it, and a ticket
opens that one image until it expires."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from stratus.common import rpc as bus_rpc
from stratus.common.db import Database, upgrade
from stratus.common.errors import Kind, StratusError
from stratus.common.rpc import Bus
from stratus.common.service import Runtime
from stratus.image import tickets
from stratus.image.migrations import MIGRATIONS
from stratus.image.models import Image
from stratus.image.rpc import IMAGE_TOPIC, LocateImage
from stratus.image.service import ImageService
from stratus.settings import Settings

pytestmark = pytest.mark.integration
DATA = b"stratus image bytes " * 5000


@dataclass
class Images:
    service: ImageService
    bus: Bus
    http: httpx.AsyncClient

    async def add(self, owner: str, visibility: str = "private") -> str:
        st = self.service.state
        assert st is not None
        image_id = str(uuid.uuid4())

        async def chunks() -> AsyncIterator[bytes]:
            yield DATA

        key = await st.stores["file"].put(image_id, chunks())
        async with st.db.session() as s:
            s.add(Image(id=image_id, name="img", status="active", visibility=visibility,
                        owner=owner, disk_format="raw", container_format="bare",
                        size=len(DATA), checksum=hashlib.md5(DATA).hexdigest(),
                        locations=[{"store": "file", "key": key}],
                        properties={"hw_disk_bus": "virtio"}))  # fmt: skip
        return image_id

    async def get(self, url: str) -> httpx.Response:
        parts = urlsplit(url)
        return await self.http.get(f"{parts.path}?{parts.query}")


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[Images]:
    settings = Settings(state_dir=tmp_path)
    bus = await bus_rpc.connect(f"memory://image-{uuid.uuid4().hex}")
    service = ImageService()
    try:
        await upgrade_image_tables(settings)
        api = await service.start(Runtime(settings=settings, bus=bus, host="node"))
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://image") as http:
            yield Images(service, bus, http)
    finally:
        await service.stop()
        await bus.close()


async def upgrade_image_tables(settings: Settings) -> None:
    db = Database(settings.database_url("image"))
    try:
        await upgrade(db, MIGRATIONS)
    finally:
        await db.close()


async def test_an_agent_fetches_a_visible_image_without_a_token(images: Images) -> None:
    image_id = await images.add(owner="p1")
    found = await images.bus.call(IMAGE_TOPIC, LocateImage(image_id=image_id, project_id="p1"))
    assert (found.disk_format, found.container_format, found.size) == ("raw", "bare", len(DATA))
    assert found.checksum == hashlib.md5(DATA).hexdigest()
    assert found.properties == {"hw_disk_bus": "virtio"}
    got = await images.get(found.download_url)
    assert got.status_code == 200, got.text
    assert got.content == DATA
    ranged = await images.http.get(urlsplit(found.download_url).path + "?"
                                   + urlsplit(found.download_url).query,
                                   headers={"Range": "bytes=0-9"})  # fmt: skip
    assert (ranged.status_code, ranged.content) == (206, DATA[:10])


async def test_another_projects_private_image_is_not_found(images: Images) -> None:
    image_id = await images.add(owner="p1")
    with pytest.raises(StratusError) as err:
        await images.bus.call(IMAGE_TOPIC, LocateImage(image_id=image_id, project_id="p2"))
    assert err.value.kind == Kind.NOT_FOUND
    public = await images.add(owner="p1", visibility="public")
    found = await images.bus.call(IMAGE_TOPIC, LocateImage(image_id=public, project_id="p2"))
    assert (await images.get(found.download_url)).content == DATA


async def test_a_ticket_opens_one_image_until_it_expires(images: Images) -> None:
    first, second = await images.add(owner="p1"), await images.add(owner="p1")
    found = await images.bus.call(IMAGE_TOPIC, LocateImage(image_id=first, project_id="p1"))
    moved = found.download_url.replace(first, second)
    assert (await images.get(moved)).status_code == 403
    tampered = found.download_url[:-4] + ("0000" if found.download_url[-4:] != "0000" else "1111")
    assert (await images.get(tampered)).status_code == 403
    st = images.service.state
    assert st is not None
    stale, _ = tickets.query(st.ticket_secret, first, 60, now=time.time() - 120)
    expired = await images.http.get(tickets.PATH.format(image_id=first) + "?" + stale)
    assert expired.status_code == 403
    bare = await images.http.get(tickets.PATH.format(image_id=first))
    assert bare.status_code == 403
    assert (await images.get(found.download_url)).content == DATA

"""``stratus up`` on the qemu driver: the guest image, public in the image service, so
``openstack server create --image stratus-guest`` boots a real VM on a fresh install.

Built once from Debian packages (``stratus guest-image build``) into the state directory
after the cloud is ready, in the background, and uploaded through the Glance API as the
admin: a kernel, a ramdisk and the disk that names them. A cloud that has the image
already keeps it. A failure (no package mirror reachable) is reported, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from rich.console import Console

from stratus.cli.guest_image import DEFAULT_CACHE
from stratus.guestimage.build import DISK_CMDLINE, GuestImage, build
from stratus.guestimage.debs import BuildError

log = logging.getLogger(__name__)

GUEST = "stratus-guest"
CHUNK = 1 << 20


async def publish(
    identity_url: str, image_url: str, admin_password: str, state_dir: Path, console: Console
) -> None:
    try:
        async with httpx.AsyncClient(base_url=image_url, timeout=600) as http:
            http.headers["X-Auth-Token"] = await _admin_token(identity_url, admin_password)
            found = (await http.get("/v2/images", params={"name": GUEST})).json()["images"]
            if found:
                return
            guest = await asyncio.to_thread(
                build, state_dir / "guest-image", DEFAULT_CACHE.expanduser()
            )
            image_id = await _upload_all(http, guest)
    except (BuildError, httpx.HTTPError, KeyError, ValueError) as exc:
        log.warning("the guest image was not published: %s", exc)
        console.print(f"  [yellow]guest image not published[/]: {exc}")
        return
    log.info("guest image %s published as %s", GUEST, image_id)
    console.print(f"  guest image: {GUEST} ({image_id}), public")


async def _admin_token(identity_url: str, password: str) -> str:
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    user = {"name": "admin", "domain": {"id": "default"}, "password": password}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                     "scope": scope}}  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{identity_url}/v3/auth/tokens", json=body)
        r.raise_for_status()
        return r.headers["X-Subject-Token"]


async def _upload_all(http: httpx.AsyncClient, guest: GuestImage) -> str:
    kernel = await _upload(http, guest.kernel, f"{GUEST}-kernel", ("aki", "aki"), {})
    ramdisk = await _upload(http, guest.initrd, f"{GUEST}-ramdisk", ("ari", "ari"), {})
    props = {"kernel_id": kernel, "ramdisk_id": ramdisk, "os_command_line": DISK_CMDLINE}
    return await _upload(http, guest.disk, GUEST, ("qcow2", "bare"), props)


async def _upload(
    http: httpx.AsyncClient, path: Path, name: str, formats: tuple[str, str],
    props: dict[str, str],
) -> str:  # fmt: skip
    body = {"name": name, "disk_format": formats[0], "container_format": formats[1],
            "visibility": "public", **props}  # fmt: skip
    made = await http.post("/v2/images", json=body)
    made.raise_for_status()
    image_id = str(made.json()["id"])
    sent = await http.put(
        f"/v2/images/{image_id}/file",
        content=_chunks(path),
        headers={"Content-Type": "application/octet-stream"},
    )
    sent.raise_for_status()
    return image_id


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk

"""Disks of instances: base images fetched once, a qcow2 overlay per instance.

A base image is downloaded from the image service (with the build's token) into
``<state>/_base/<image id>``, checked against its MD5 checksum when the image has one
and against its declared format with ``qemu-img info`` (a qcow2 naming a backing file
is refused: it could read any host file). Each instance's root disk is a qcow2 overlay
on the base, grown to the flavor's ``root_gb``; ephemeral and swap disks are sparse raw
files formatted on the host (ext4, swap), as Nova formats them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from stratus.compute.virt.driver import DriverError, FlavorSpec, ImageSpec
from stratus.compute.virt.qemu.paths import InstancePaths

GiB = 1 << 30
DISK_FORMATS = frozenset({"raw", "qcow2"})


async def run(*argv: str) -> str:
    """Run a host tool; its stderr becomes the ``DriverError`` when it fails."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise DriverError(f"{argv[0]} failed: {err.decode(errors='replace').strip()[-400:]}")
    return out.decode()


async def image_info(path: Path, fmt: str | None = None) -> dict[str, Any]:
    argv = ["qemu-img", "info", "--output=json", "-U"]
    if fmt:
        argv += ["-f", fmt]
    info: dict[str, Any] = json.loads(await run(*argv, str(path)))
    return info


def related_url(image: ImageSpec, other_id: str) -> str:
    """The download URL of another image (a kernel or ramdisk) of the same service."""
    if image.id not in image.download_url:
        raise DriverError(f"image {image.id} has no download URL to find {other_id} from")
    head, _, tail = image.download_url.rpartition(image.id)
    return head + other_id + tail


class ImageCache:
    """Base images and kernels of this host, fetched once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def base_image(self, image: ImageSpec) -> tuple[Path, str]:
        """The cached image file and its format (the declared one, or, when the spec
        does not say, what ``qemu-img`` finds)."""
        declared = image.disk_format
        if declared and declared not in DISK_FORMATS:
            raise DriverError(f"the qemu driver boots raw and qcow2 images, not {declared!r}")
        path = await self.fetch(image.id, image.download_url, image.download_token,
                                image.checksum)  # fmt: skip
        info = await image_info(path, declared or None)
        fmt = str(info.get("format", ""))
        if fmt not in DISK_FORMATS:
            raise DriverError(f"image {image.id} is {fmt!r}: the qemu driver boots raw and qcow2")
        if fmt == "qcow2" and info.get("backing-filename"):
            raise DriverError(f"image {image.id} is not a standalone qcow2 image")
        return path, fmt

    async def fetch(self, image_id: str, url: str, token: str, checksum: str | None) -> Path:
        target = self.root / image_id
        async with self._locks[image_id]:
            if target.exists():
                return target
            if not url:
                raise DriverError(f"image {image_id} has no download URL")
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            try:
                digest = await _download(url, token, partial)
                if checksum and digest != checksum:
                    raise DriverError(f"image {image_id} checksum mismatch: {digest} != {checksum}")
                await asyncio.to_thread(os.replace, partial, target)
            finally:
                await asyncio.to_thread(partial.unlink, missing_ok=True)
        return target


async def _download(url: str, token: str, target: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    headers = {"X-Auth-Token": token} if token else {}
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise DriverError(f"image download {url} answered {response.status_code}")
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes(1 << 20):
                    md5.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
    except httpx.HTTPError as exc:
        raise DriverError(f"image download {url} failed: {exc}") from None
    return md5.hexdigest()


async def create_root(paths: InstancePaths, base: Path, fmt: str, root_gb: int) -> None:
    """A qcow2 overlay on ``base``, as large as the flavor's root disk (never smaller
    than the image)."""
    virtual = int((await image_info(base, fmt))["virtual-size"])
    size = max(virtual, root_gb * GiB)
    await run("qemu-img", "create", "-q", "-f", "qcow2", "-F", fmt, "-b", str(base),
              str(paths.disk), str(size))  # fmt: skip


async def grow_root(paths: InstancePaths, root_gb: int) -> None:
    """Cold resize: a larger flavor grows the disk; a disk never shrinks."""
    virtual = int((await image_info(paths.disk, "qcow2"))["virtual-size"])
    if root_gb * GiB > virtual:
        await run("qemu-img", "resize", "-q", "-f", "qcow2", str(paths.disk), f"{root_gb}G")


async def create_extra(paths: InstancePaths, flavor: FlavorSpec) -> None:
    """Ephemeral (ext4, label ``ephemeral0``) and swap disks, when the flavor has them."""
    if flavor.ephemeral_gb and not paths.ephemeral.exists():
        await asyncio.to_thread(_sparse, paths.ephemeral, flavor.ephemeral_gb * GiB)
        await run("mkfs.ext4", "-q", "-F", "-L", "ephemeral0", str(paths.ephemeral))
    if flavor.swap_mb and not paths.swap.exists():
        await asyncio.to_thread(_sparse, paths.swap, flavor.swap_mb << 20)
        await run("mkswap", "-L", "swap0", str(paths.swap))


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as out:
        out.truncate(size)


async def convert(source: Path, target: str, disk_format: str) -> str:
    """Copy the disk (overlay and base flattened) as a standalone image; returns the
    format written: qcow2 or raw as asked, qcow2 for anything else."""
    fmt = disk_format if disk_format in DISK_FORMATS else "qcow2"
    await run("qemu-img", "convert", "-U", "-f", "qcow2", "-O", fmt, str(source), target)
    return fmt

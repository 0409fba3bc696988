"""A snapshot's way into the image service (Glance v2 over HTTP), for one queued image.

Used by the compute agent, which has no database and no service credentials: it acts
with the token of the user who asked for the snapshot, so it can only fill or delete
that user's image. The conductor uses ``delete`` when no agent can take the snapshot.
Errors carry the image service's own message; the token is never part of one, nor of
anything logged.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType

import httpx

CHUNK = 1 << 20
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
# connecting may take 10 s; each chunk read or written may take 120 s (a long upload is fine)
TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class UploadError(Exception):
    """The image service refused or could not be reached; the message says which."""


class ImageUpload:
    def __init__(
        self,
        image_url: str,
        image_id: str,
        token: str,
        request_id: str,
    ) -> None:
        self.image_id = image_id
        headers = {"X-Auth-Token": token, "X-Openstack-Request-Id": request_id}
        self._url = f"{image_url.rstrip('/')}/v2/images/{image_id}"
        self._http = httpx.AsyncClient(headers=headers, timeout=TIMEOUT)

    async def __aenter__(self) -> ImageUpload:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    async def set_formats(self, disk_format: str, container_format: str) -> None:
        """Declare what the driver really wrote (allowed while the image is queued)."""
        ops = [
            {"op": "replace", "path": "/disk_format", "value": disk_format},
            {"op": "replace", "path": "/container_format", "value": container_format},
        ]
        request = self._http.build_request(
            "PATCH", self._url, json=ops, headers={"Content-Type": PATCH_TYPE}
        )
        await self._send(request)

    async def put_file(self, path: Path) -> None:
        """Stream the file as the image's data; the image is active when this returns."""
        size = (await asyncio.to_thread(path.stat)).st_size
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        put = self._http.build_request(
            "PUT", f"{self._url}/file", content=_chunks(path), headers=headers
        )
        await self._send(put)

    async def delete(self) -> None:
        """Remove the image (Nova deletes a failed snapshot); a gone one is fine."""
        await self._send(self._http.build_request("DELETE", self._url), missing_ok=True)

    async def _send(self, request: httpx.Request, *, missing_ok: bool = False) -> None:
        try:
            r = await self._http.send(request)
        except httpx.HTTPError as exc:
            raise UploadError(f"the image service cannot be reached: {exc}") from None
        if r.is_success or (missing_ok and r.status_code == 404):
            return
        raise UploadError(f"the image service answered {r.status_code}: {_message(r)}")


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
    try:
        while chunk := await asyncio.to_thread(os.read, fd, CHUNK):
            yield chunk
    finally:
        os.close(fd)


def _message(r: httpx.Response) -> str:
    """Glance's error text: ``{"message": ...}``, or the body's first line."""
    try:
        body = r.json()
    except ValueError:
        return r.text.strip().splitlines()[0] if r.text.strip() else r.reason_phrase
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else r.reason_phrase

"""The guest image served as the image service serves image data, for QEMU tests.

A small HTTP server on 127.0.0.1 answers ``GET /v2/images/{id}/file`` for the built
kernel (``kernel``), initramfs (``ramdisk``) and disk (``disk``), and only with the
right ``X-Auth-Token``, so the driver's download, token and checksum paths are real.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stratus.cli.guest_image import DEFAULT_CACHE
from stratus.compute.virt.driver import ImageSpec
from stratus.guestimage.build import DISK_CMDLINE, MANIFEST_FILE, GuestImage, build

TOKEN = "t-" + uuid.uuid4().hex


def guest_image(factory: pytest.TempPathFactory) -> GuestImage:
    """The guest image, built once per test session into the session's temp dir."""
    out = factory.getbasetemp() / "stratus-guest"
    if not (out / MANIFEST_FILE).exists():
        return build(out, DEFAULT_CACHE.expanduser())
    return GuestImage(out / "stratus-guest.vmlinuz", out / "stratus-guest.initrd",
                      out / "stratus-guest.qcow2", "")  # fmt: skip


@dataclass
class ImageServer:
    url: str
    files: dict[str, Path]

    def disk_image(self, checksum: str | None = None) -> ImageSpec:
        """The qcow2 disk, booted with the kernel and initramfs images it names."""
        disk = self.files["disk"]
        return ImageSpec(
            id="disk", disk_format="qcow2", container_format="bare",
            size=disk.stat().st_size, checksum=checksum or md5(disk),
            properties={"kernel_id": "kernel", "ramdisk_id": "ramdisk",
                        "os_command_line": DISK_CMDLINE},
            download_url=f"{self.url}/v2/images/disk/file", download_token=TOKEN,
        )  # fmt: skip


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _handler(files: dict[str, Path]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")  # v2/images/<id>/file
            if self.headers.get("X-Auth-Token") != TOKEN:
                self.send_error(401)
                return
            if len(parts) != 4 or parts[3] != "file" or parts[2] not in files:
                self.send_error(404)
                return
            data = files[parts[2]].read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serve(guest: GuestImage) -> Iterator[ImageServer]:
    files = {"kernel": guest.kernel, "ramdisk": guest.initrd, "disk": guest.disk}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ImageServer(f"http://127.0.0.1:{server.server_address[1]}", files)
    finally:
        server.shutdown()
        server.server_close()

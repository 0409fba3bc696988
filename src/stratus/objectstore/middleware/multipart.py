"""A streaming reader of ``multipart/form-data`` bodies (RFC 7578), for FormPOST.

A browser's form upload may carry files of gigabytes, so the body is read piece by
piece: ``next_part`` reads one part's headers, ``chunks`` hands out its content as it
arrives. The reader holds at most one incoming chunk plus a delimiter's length of
look-ahead (a part's content ends where ``CRLF--boundary`` begins, so the tail of a
chunk that could be the start of it is kept until the next chunk decides).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from stratus.common.errors import InvalidInput

MAX_HEADERS = 8192
_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def malformed(message: str = "Malformed multipart body") -> InvalidInput:
    return InvalidInput("objectstore.formpost.malformed", message)


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` content type, else ``None``."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    value = header_params(";" + params).get("boundary", "")
    return value.encode("latin-1") if value and len(value) <= 200 else None


def header_params(text: str) -> dict[str, str]:
    """``; name="value"; other=value`` as a dict (quotes and escapes removed)."""
    out: dict[str, str] = {}
    for name, raw in _PARAM.findall(text):
        value = raw.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[name.lower()] = value
    return out


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None  # None for a plain field; a file field may have ""
    content_type: str


class MultipartReader:
    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body
        self._delimiter = b"\r\n--" + boundary
        self._buffer = b"\r\n"  # so that the first boundary looks like every other one
        self._in_part = False
        self._finished = False

    async def _more(self) -> None:
        chunk = await anext(self._body, None)
        if chunk is None:
            raise malformed("Multipart body ended early")
        self._buffer += chunk

    async def next_part(self) -> Part | None:
        """The next part's headers (skipping what is left of the current one), or
        ``None`` after the closing boundary."""
        if self._in_part:
            async for _ in self.chunks():
                pass
        if self._finished:
            return None
        while (at := self._buffer.find(self._delimiter)) < 0:
            self._buffer = self._buffer[-len(self._delimiter) :]  # a preamble is skipped
            await self._more()
        self._buffer = self._buffer[at + len(self._delimiter) :]
        while len(self._buffer) < 2:
            await self._more()
        if self._buffer.startswith(b"--"):
            self._finished = True
            return None
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > MAX_HEADERS:
                raise malformed("Multipart headers too long")
            await self._more()
        head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
        self._in_part = True
        return _part(head)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The current part's content, as it arrives."""
        keep = len(self._delimiter) - 1
        while self._in_part:
            at = self._buffer.find(self._delimiter)
            if at >= 0:
                piece, self._buffer = self._buffer[:at], self._buffer[at:]
                self._in_part = False
            else:
                cut = max(0, len(self._buffer) - keep)
                piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
            if piece:
                yield piece
            if self._in_part:
                await self._more()

    async def read(self, limit: int) -> bytes:
        """The current part's whole content; more than ``limit`` bytes is a 400."""
        out = b""
        async for piece in self.chunks():
            out += piece
            if len(out) > limit:
                raise malformed("Form field too large")
        return out


def _part(head: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise malformed("Multipart part without form-data disposition")
    params = header_params(disposition[len("form-data") :])
    return Part(
        params.get("name", ""),
        params.get("filename"),
        headers.get("content-type", "application/octet-stream"),
    )

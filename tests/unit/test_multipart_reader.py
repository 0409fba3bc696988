"""The streaming multipart reader FormPOST uses, fed in pieces of every size."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stratus.common.errors import InvalidInput
from stratus.objectstore.middleware.multipart import MultipartReader, boundary_of

BOUNDARY = b"XyZ--boundary"
BODY = (
    b"preamble\r\n"
    b"--XyZ--boundary\r\n"
    b'Content-Disposition: form-data; name="redirect"\r\n\r\n'
    b"http://x/y\r\n"
    b"--XyZ--boundary\r\n"
    b'Content-Disposition: form-data; name="file1"; filename="a \\"b\\".txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
    b"line one\r\n--XyZ-- almost a boundary\r\n\r\n"
    b"--XyZ--boundary\r\n"
    b'Content-Disposition: form-data; name="file2"; filename=""\r\n\r\n'
    b"\r\n"
    b"--XyZ--boundary--\r\n"
)


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(data: bytes, size: int) -> list[tuple[str, str | None, bytes]]:
    reader = MultipartReader(pieces(data, size), BOUNDARY)
    out = []
    while (part := await reader.next_part()) is not None:
        out.append((part.name, part.filename, await reader.read(1000)))
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 1000])
async def test_parts_survive_any_chunking(size: int) -> None:
    assert await read_all(BODY, size) == [
        ("redirect", None, b"http://x/y"),
        ("file1", 'a "b".txt', b"line one\r\n--XyZ-- almost a boundary\r\n"),
        ("file2", "", b""),
    ]


async def test_a_truncated_body_is_refused() -> None:
    with pytest.raises(InvalidInput):
        await read_all(BODY[:150], 10)


def test_boundary_of() -> None:
    assert boundary_of('multipart/form-data; boundary="a b"') == b"a b"
    assert boundary_of("multipart/form-data; boundary=abc") == b"abc"
    assert boundary_of("multipart/mixed; boundary=abc") is None
    assert boundary_of("multipart/form-data") is None

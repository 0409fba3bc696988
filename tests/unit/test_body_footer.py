"""The proxy's digests after a body: split off whatever the chunk boundaries."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from stratus.common.errors import InvalidInput
from stratus.objectstore.storage.body_footer import LENGTH, BodyDigest, FooterSplitter


def split(stream: bytes, cuts: list[int]) -> tuple[bytes, BodyDigest]:
    splitter = FooterSplitter()
    body = b""
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        body += b"".join(bytes(piece) for piece in splitter.feed(stream[start:end]))
    return body, splitter.digest()


@pytest.mark.parametrize("size", [0, 1, LENGTH - 1, LENGTH, LENGTH + 1, 1000])
def test_every_chunking_gives_back_body_and_digest(size: int) -> None:
    data = bytes(range(256)) * 4
    data = data[:size]
    digest = BodyDigest(hashlib.md5(data).hexdigest(), zlib.crc32(data))
    stream = data + digest.footer()
    assert len(digest.footer()) == LENGTH
    for wanted in ([], [1], [size], [size + 1], [len(stream) - 1], range(1, len(stream), 7)):
        cuts = sorted({c for c in wanted if 0 < c < len(stream)})
        assert split(stream, cuts) == (data, digest)


def test_short_or_malformed_footer_is_refused() -> None:
    for stream in (b"", b"x" * (LENGTH - 1), b"abc" + b"Z" * LENGTH, b"0" * 32 + b"0000000G"):
        with pytest.raises(InvalidInput):
            split(stream, [])

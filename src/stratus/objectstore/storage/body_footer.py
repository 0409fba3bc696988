"""The digests a proxy sends after an object's body, so replicas need not hash it again.

A replicated PUT's body used to be hashed with MD5 by every replica (the ETag), three
times per byte, the largest single CPU cost of a large PUT. The proxy now hashes it once,
MD5 and CRC-32, as it streams, and announces ``X-Backend-Body-Footer: md5-crc32``: the
body is followed by 40 ASCII bytes, the MD5 and the CRC-32 in lowercase hex, counted in
``Content-Length``. The object server writes all but those bytes, computes only the cheap
CRC-32 of what it wrote, and refuses (422, nothing stored) a body whose CRC-32 is not the
sender's; the MD5 then becomes the stored ETag (and is checked against a client's
``ETag`` as before). Object servers must understand the footer before proxies send it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stratus.common.errors import InvalidInput

HEADER = "X-Backend-Body-Footer"
KIND = "md5-crc32"
LENGTH = 40
_FORMAT = re.compile(rb"([0-9a-f]{32})([0-9a-f]{8})")


@dataclass(frozen=True, slots=True)
class BodyDigest:
    """What the sender computed over the body: the ETag (MD5 hex) and the CRC-32."""

    etag: str
    crc32: int

    def footer(self) -> bytes:
        return f"{self.etag}{self.crc32:08x}".encode("ascii")


class FooterSplitter:
    """Passes a body through, holding back its last ``LENGTH`` bytes: the footer."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> tuple[bytes | memoryview, ...]:
        """The pieces of what came so far that are surely body (none, one or two); a
        large chunk is passed on as a view, not copied."""
        if len(self._tail) + len(chunk) <= LENGTH:
            self._tail += chunk
            return ()
        if len(chunk) >= LENGTH:
            held, self._tail = self._tail, chunk[-LENGTH:]
            return (held, memoryview(chunk)[:-LENGTH]) if held else (memoryview(chunk)[:-LENGTH],)
        joined = self._tail + chunk
        self._tail = joined[-LENGTH:]
        return (joined[:-LENGTH],)

    def digest(self) -> BodyDigest:
        """The footer once the body has ended; 400 when it is short or malformed."""
        match = _FORMAT.fullmatch(self._tail)
        if match is None:
            raise InvalidInput(
                "objectstore.object.bad_footer",
                f"{HEADER}: the body must end with {LENGTH} hex digits (MD5, CRC-32)",
            )
        return BodyDigest(match[1].decode(), int(match[2], 16))

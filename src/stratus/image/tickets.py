"""Signed, expiring permission to download one image's data without a token.

The image service signs ``image id`` and an expiry time with its ``[image]
ticket_secret`` (HMAC-SHA256); any image API process with the same secret honours the
ticket until it expires. A ticket names one image: it cannot be moved to another.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from stratus.common.errors import Forbidden

PATH = "/internal/v2/images/{image_id}/file"


def sign(secret: bytes, image_id: str, expires: int) -> str:
    return hmac.new(secret, f"{image_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


def query(secret: bytes, image_id: str, lifetime: int, now: float | None = None) -> tuple[str, int]:
    """The ticket's query string and its expiry (Unix seconds)."""
    expires = int(now if now is not None else time.time()) + lifetime
    return f"expires={expires}&signature={sign(secret, image_id, expires)}", expires


def check(secret: bytes, image_id: str, expires: str, signature: str) -> None:
    """Raise ``Forbidden`` unless the ticket is this image's and still valid."""
    if not expires.isdigit() or int(expires) < time.time():
        raise Forbidden("image.ticket.expired", "The download ticket has expired.")
    if not hmac.compare_digest(sign(secret, image_id, int(expires)), signature):
        raise Forbidden("image.ticket.invalid", "The download ticket is not valid.")

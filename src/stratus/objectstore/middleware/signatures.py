"""What TempURL and FormPOST share: the account's and container's secret keys, the
signatures made with them, and the caller they vouch for.

A signature is an HMAC (SHA-1, SHA-256 or SHA-512) of a message the middleware builds
from the request, with any of up to four keys: ``X-Account-Meta-Temp-URL-Key(-2)`` (good
for the whole account) and ``X-Container-Meta-Temp-URL-Key(-2)`` (that container only).
It is written as hex, whose length names the digest, or as ``<digest>:<base64>``. Two
keys per level let an owner rotate one while URLs signed with the other keep working.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from stratus.objectstore.proxy.auth import RESELLER_PREFIX, Caller
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.info import account_info, container_info

DIGESTS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}
ALLOWED_DIGESTS = ("sha1", "sha256", "sha512")
DEPRECATED_DIGESTS = ("sha1",)
_HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
_KEY_NAMES = ("temp-url-key", "temp-url-key-2")


@dataclass(frozen=True, slots=True)
class Signature:
    digest: str
    mac: bytes

    @classmethod
    def parse(cls, text: str) -> Signature | None:
        """``None`` for anything that is not a well-formed signature of an allowed digest."""
        name, sep, encoded = text.partition(":")
        try:
            if sep:
                padded = encoded + "=" * (-len(encoded) % 4)
                mac = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
            else:
                name = _HEX_LENGTHS.get(len(text), "")
                mac = bytes.fromhex(text)
        except (ValueError, binascii.Error):
            return None
        if name not in ALLOWED_DIGESTS or len(mac) != DIGESTS[name]().digest_size:
            return None
        return cls(name, mac)

    def made_by(self, keys: list[bytes], message: str) -> bool:
        """Whether any key signs ``message`` to this signature (in constant time each)."""
        body = message.encode("utf-8")
        found = False
        for key in keys:
            expected = hmac.new(key, body, DIGESTS[self.digest]).digest()
            found |= hmac.compare_digest(expected, self.mac)
        return found


async def signing_keys(cluster: Cluster, account: str, container: str | None) -> list[bytes]:
    """The account's keys, then the container's (if one is named); none set: empty."""
    keys: list[str] = []
    info = await account_info(cluster, account)
    if info.exists:
        keys += [info.get(f"x-account-meta-{name}") for name in _KEY_NAMES]
    if container is not None:
        found = await container_info(cluster, account, container)
        if found.exists:
            keys += [found.get(f"x-container-meta-{name}") for name in _KEY_NAMES]
    return [k.encode("utf-8") for k in keys if k]


def owner_of(account: str) -> Caller | None:
    """The caller a valid signature vouches for: the account's owner (``None`` for an
    account that belongs to no project)."""
    project = account.removeprefix(RESELLER_PREFIX)
    if project == account or not project:
        return None
    return Caller(project_id=project)

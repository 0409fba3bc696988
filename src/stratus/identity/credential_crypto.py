"""Encryption of stored credential blobs (EC2 access/secret pairs).

An EC2 secret has to be recoverable, because verifying a signature means recomputing it,
so it cannot be hashed like a password. Encrypting it with keys kept outside the database
means a database dump alone does not hand out working secrets. The keys come from their
own rotated repository (``KeyRepository``): the first key encrypts, every key decrypts, so
a rotation never makes an existing credential unreadable.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from stratus.common.errors import Kind, StratusError


class CredentialUnreadable(StratusError):
    """A stored blob no key in the repository opens: keys were lost or not shared."""

    kind = Kind.INTERNAL


class CredentialCrypto:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one credential key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, data: bytes | str) -> str:
        raw = data.encode() if isinstance(data, str) else data
        return self._fernet.encrypt(raw).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise CredentialUnreadable(
                "identity.credential.unreadable",
                "A stored credential cannot be decrypted with the credential keys.",
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt with the current primary key, so old keys can be retired."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise CredentialUnreadable(
                "identity.credential.unreadable",
                "A stored credential cannot be decrypted with the credential keys.",
            ) from None

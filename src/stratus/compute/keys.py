"""SSH key pairs: generation (Ed25519) and the fingerprints Nova shows.

An OpenSSH public key's fingerprint is the MD5 of its decoded blob, colon-separated (what
``ssh-keygen -l -E md5`` prints); an x509 certificate's is the SHA-1 of its DER form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from stratus.common.errors import InvalidInput


def _colons(digest: str) -> str:
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def invalid(reason: str) -> InvalidInput:
    return InvalidInput("compute.keypair.invalid", f"Keypair data is invalid: {reason}")


def ssh_fingerprint(public_key: str) -> str:
    """The MD5 fingerprint of an OpenSSH public key line, or a 400 if it is not one."""
    parts = public_key.strip().split()
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(parts[1], validate=True)
    except (ValueError, IndexError, binascii.Error, TypeError):
        raise invalid("failed to generate fingerprint") from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def x509_fingerprint(pem: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise invalid("failed to generate fingerprint") from None
    der = cert.public_bytes(serialization.Encoding.DER)
    return _colons(hashlib.sha1(der, usedforsecurity=False).hexdigest())


def generate(comment: str) -> tuple[str, str, str]:
    """A new Ed25519 key pair: (private key in OpenSSH format, public line, fingerprint)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    line = f"{public} {comment}"
    return private, line, ssh_fingerprint(line)

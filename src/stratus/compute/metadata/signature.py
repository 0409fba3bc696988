"""The proxy's proof that a request comes from the instance it names.

The network agent's metadata proxy knows which port (so which instance) a guest's packet
came from; it sends the instance id with ``X-Instance-ID-Signature``, the hex
HMAC-SHA256 of the id under ``[metadata] shared_secret``. Anything else that reaches this
port cannot name an instance without the secret.
"""

from __future__ import annotations

import hashlib
import hmac

INSTANCE_HEADER = "X-Instance-ID"
TENANT_HEADER = "X-Tenant-ID"
FORWARDED_HEADER = "X-Forwarded-For"
SIGNATURE_HEADER = "X-Instance-ID-Signature"


def sign(secret: str, instance_id: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def is_valid(secret: str, instance_id: str, signature: str) -> bool:
    """Constant-time check; an empty secret accepts nothing (anyone could sign with it)."""
    if not secret or not signature:
        return False
    expected = sign(secret, instance_id)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())

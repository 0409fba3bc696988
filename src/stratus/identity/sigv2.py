"""AWS Signature Version 2 (EC2 Query API) and the S3 HMAC-SHA1 signature.

Older EC2 clients (euca2ools, boto 2, some Terraform providers) still sign with version 2;
legacy S3 clients sign with HMAC-SHA1. Pure functions, shared like ``sigv4``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

from stratus.identity.sigv4 import MalformedSignature

_DIGESTS = {"HmacSHA256": hashlib.sha256, "HmacSHA1": hashlib.sha1}


def ec2_string_to_sign(method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """Verb, host, path and the sorted, encoded parameters except ``Signature``."""
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(params[k], safe='-_.~')}"
        for k in sorted(params)
        if k != "Signature"
    )
    return f"{method.upper()}\n{host.lower()}\n{path or '/'}\n{query}"


def ec2_signature(secret: str, method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """The version 2 signature of an EC2 Query request, with its declared HMAC."""
    if params.get("SignatureVersion") != "2":
        raise MalformedSignature("sigv2.malformed", "Only SignatureVersion 2 is supported.")
    digest = _DIGESTS.get(params.get("SignatureMethod", ""))
    if digest is None:
        raise MalformedSignature(
            "sigv2.malformed", "SignatureMethod must be HmacSHA256 or HmacSHA1."
        )
    to_sign = ec2_string_to_sign(method, host, path, params)
    mac = hmac.new(secret.encode(), to_sign.encode(), digest).digest()
    return base64.b64encode(mac).decode()


def s3_signature(secret: str, to_sign: bytes) -> str:
    """The S3 (version 2) signature: base64 of HMAC-SHA1 over the string to sign."""
    return base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha1).digest()).decode()

"""AWS Signature Version 4: canonical request, string to sign, signing key, verification.

Pure functions over what a signer sent, with no I/O, so the EC2 and S3 front ends and
``/v3/ec2tokens`` verify requests through one implementation. Failures are typed errors
with stable codes (``sigv4.malformed``, ``sigv4.mismatch``, ``sigv4.expired``,
``sigv4.skewed``); each front end maps them to its own wire format (S3
``SignatureDoesNotMatch``, EC2 ``AuthFailure``, Keystone 401).

The canonical URI follows the AWS rules rather than echoing the wire path: each path
segment is decoded and re-encoded (so clients that leave ``!`` or ``+`` unescaped still
verify), and for every service except S3 the result is normalised (``.``, ``..``, empty
segments removed) and encoded a second time. For botocore's requests this gives exactly
the string botocore signed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus

from stratus.common.errors import InvalidInput, Unauthenticated

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = dt.timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_QUERY_SAFE = "-_.~"


class MalformedSignature(InvalidInput):
    """The request's signature fields cannot be parsed (S3: AuthorizationHeaderMalformed)."""


class SignatureMismatch(Unauthenticated):
    """The signature is well formed but wrong (S3: SignatureDoesNotMatch)."""


class RequestExpired(Unauthenticated):
    """The signature is outside its validity window (clock skew or presigned expiry)."""


def _malformed(message: str) -> MalformedSignature:
    return MalformedSignature("sigv4.malformed", message)


@dataclass(frozen=True)
class Scope:
    """The credential scope: which day, region and service a signing key is valid for."""

    date: str
    region: str
    service: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"

    @classmethod
    def parse(cls, text: str) -> Scope:
        parts = text.split("/")
        if len(parts) != 4 or parts[3] != TERMINATOR or not all(parts[:3]):
            raise _malformed(f"Credential scope {text!r} is not date/region/service/aws4_request.")
        return cls(parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class Authorization:
    """The signature a request carries, from its Authorization header or X-Amz-* query."""

    access_key: str
    scope: Scope
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int | None = None  # presigned URLs only: seconds after amz_date

    @property
    def presigned(self) -> bool:
        return self.expires is not None


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a request that enter the canonical request.

    ``canonical_uri`` is the path as it enters the canonical request: build it from the wire
    path with ``canonical_uri()``. ``query`` holds decoded pairs (``X-Amz-Signature`` is
    ignored). ``headers`` holds every received header, names in any case, repeats allowed.
    """

    method: str
    canonical_uri: str
    query: Sequence[tuple[str, str]]
    headers: Sequence[tuple[str, str]]
    payload_hash: str


def canonical_uri(raw_path: str, *, s3: bool) -> str:
    """The canonical URI of a wire (percent-encoded) path; S3 paths are encoded once."""
    path = raw_path or "/"
    if not s3:
        path = _remove_dot_segments(path)
    once = "/".join(quote(unquote(segment), safe="~") for segment in path.split("/"))
    return once if s3 else quote(once, safe="/~")


def _remove_dot_segments(path: str) -> str:
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    trailing = "/" if path.endswith("/") and kept else ""
    return "/" + "/".join(kept) + trailing


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Decoded pairs of a raw query string; ``+`` is a space (form encoding, as botocore sends)."""
    pairs = []
    for item in raw_query.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted(
        (quote(k, safe=_QUERY_SAFE), quote(v, safe=_QUERY_SAFE))
        for k, v in pairs
        if k != "X-Amz-Signature"
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_headers(headers: Iterable[tuple[str, str]], names: Sequence[str]) -> str:
    """The signed headers, lower-cased, values trimmed and joined; a missing one is an error."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.strip().lower(), []).append(" ".join(value.split()))
    lines = []
    for name in names:
        if name not in values:
            raise _malformed(f"Signed header {name!r} is not in the request.")
        lines.append(f"{name}:{','.join(values[name])}")
    return "\n".join(lines) + "\n"


def canonical_request(req: SignedRequest, signed_headers: Sequence[str]) -> str:
    return "\n".join(
        (
            req.method.upper(),
            req.canonical_uri,
            canonical_query(req.query),
            canonical_headers(req.headers, signed_headers),
            ";".join(signed_headers),
            req.payload_hash,
        )
    )


def string_to_sign(amz_date: str, scope: Scope, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return "\n".join((ALGORITHM, amz_date, str(scope), digest))


def signing_key(secret: str, scope: Scope) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (scope.date, scope.region, scope.service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, scope: Scope, to_sign: str) -> str:
    return hmac.new(signing_key(secret, scope), to_sign.encode(), hashlib.sha256).hexdigest()


def sign_string(secret: str, to_sign: str) -> str:
    """Sign a string-to-sign handed over whole (the S3 token middleware sends it so)."""
    lines = to_sign.split("\n")
    if len(lines) != 4 or lines[0] != ALGORITHM:
        raise _malformed("The string to sign is not a SigV4 string to sign.")
    return signature(secret, Scope.parse(lines[2]), to_sign)


def payload_hash(body: bytes, headers: Mapping[str, str], *, presigned_s3: bool = False) -> str:
    """The payload hash a signer used: its declared one, UNSIGNED for S3 presigned, or sha256.

    A declared ``x-amz-content-sha256`` is trusted here; whoever reads the body (S3) must
    still check the body against it unless it is ``UNSIGNED-PAYLOAD`` or a streaming mode.
    """
    declared = headers.get("x-amz-content-sha256")
    if declared:
        return declared
    if presigned_s3:
        return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def parse_authorization(
    headers: Mapping[str, str], query: Sequence[tuple[str, str]]
) -> Authorization | None:
    """The request's SigV4 signature, or ``None`` when it carries no SigV4 signature at all.

    ``headers`` must answer lower-case names (a case-insensitive mapping is fine).
    """
    header = headers.get("authorization")
    if header is not None and header.startswith(ALGORITHM):
        return _from_header(header, headers.get("x-amz-date"))
    params = dict(query)
    if params.get("X-Amz-Algorithm") == ALGORITHM:
        return _from_query(params)
    return None


def _from_header(header: str, amz_date: str | None) -> Authorization:
    fields: dict[str, str] = {}
    for part in header[len(ALGORITHM) :].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise _malformed(f"The Authorization header lacks {', '.join(missing)}.")
    if not amz_date:
        raise _malformed("The X-Amz-Date header is missing.")
    return _authorization(
        fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date
    )


def _from_query(params: Mapping[str, str]) -> Authorization:
    names = ("X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Date")
    missing = [n for n in (*names, "X-Amz-Expires") if not params.get(n)]
    if missing:
        raise _malformed(f"The presigned request lacks {', '.join(missing)}.")
    try:
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise _malformed("X-Amz-Expires is not a number of seconds.") from None
    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise _malformed(f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_SECONDS} seconds.")
    auth = _authorization(*(params[n] for n in names))
    return Authorization(
        auth.access_key, auth.scope, auth.signed_headers, auth.signature, auth.amz_date, expires
    )


def _authorization(credential: str, signed: str, sig: str, amz_date: str) -> Authorization:
    access_key, sep, scope_text = credential.partition("/")
    if not sep or not access_key:
        raise _malformed("The Credential is not access-key/date/region/service/aws4_request.")
    scope = Scope.parse(scope_text)
    if not amz_date.startswith(scope.date):
        raise _malformed("The credential scope date does not match X-Amz-Date.")
    names = tuple(signed.split(";"))
    if "host" not in names:
        raise _malformed("The host header must be signed.")
    return Authorization(access_key, scope, names, sig, amz_date)


def parse_amz_date(text: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise _malformed(f"X-Amz-Date {text!r} is not in the form YYYYMMDDTHHMMSSZ.") from None


def check_time(auth: Authorization, now: dt.datetime) -> None:
    """Reject a signature outside its window: ±15 minutes, or past a presigned expiry."""
    signed_at = parse_amz_date(auth.amz_date)
    if signed_at - now > MAX_SKEW:
        raise RequestExpired("sigv4.skewed", "The request was signed in the future.")
    if auth.expires is not None:
        if now > signed_at + dt.timedelta(seconds=auth.expires):
            raise RequestExpired("sigv4.expired", "The presigned request has expired.")
    elif now - signed_at > MAX_SKEW:
        raise RequestExpired("sigv4.skewed", "The request was signed too long ago.")


def expected_signature(req: SignedRequest, auth: Authorization, secret: str) -> str:
    canonical = canonical_request(req, auth.signed_headers)
    return signature(secret, auth.scope, string_to_sign(auth.amz_date, auth.scope, canonical))


def verify(
    req: SignedRequest, auth: Authorization, secret: str, *, now: dt.datetime | None = None
) -> None:
    """Raise unless ``auth`` is a valid, current signature of ``req`` made with ``secret``."""
    check_time(auth, now or dt.datetime.now(dt.UTC))
    expected = expected_signature(req, auth, secret)
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        raise SignatureMismatch(
            "sigv4.mismatch",
            "The request signature does not match the signature computed with the secret key.",
        )

"""``POST /v3/ec2tokens`` and ``POST /v3/s3tokens``: a token for a request signed with EC2 keys.

An EC2 or S3 front end that is not Stratus's own (keystonemiddleware's ``s3_token``, Heat,
the old ec2-api) forwards what the client signed; we find the secret by the access key,
recompute the signature (SigV4, or SigV2 for old clients) and answer with a token scoped
to the credential's project, exactly as ``POST /v3/auth/tokens`` renders one (Keystone
answers 200 here, not 201). Any failure is a 401 that does not say whether the access key
exists. A credential created from an application credential yields a token limited to
that application credential's roles.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hmac
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.datastructures import Headers
from starlette.responses import Response

from stratus.common.asgi.policy import PUBLIC
from stratus.common.asgi.routing import ApiRequest, Routes, parse_model
from stratus.common.errors import InvalidInput, Unauthenticated
from stratus.identity import models as m
from stratus.identity import sigv2, sigv4
from stratus.identity.api.credentials import EC2, find_ec2
from stratus.identity.state import IdentityState, state_of

routes = Routes("identity")
SUBJECT = "X-Subject-Token"

Text = Annotated[str, StringConstraints(strict=True, max_length=65535)]


class SignedCredentials(BaseModel):
    """What the front end forwards: keystonemiddleware's and Heat's shape."""

    model_config = ConfigDict(extra="ignore")
    access: Text | None = None
    signature: Text | None = None
    host: Text = ""
    verb: Text = "GET"
    path: Text = "/"
    params: dict[str, Text | int | float | bool | None] = {}
    headers: dict[str, Text] = {}
    body_hash: Text = sigv4.EMPTY_SHA256
    token: Text | None = None  # S3: the string to sign, base64


def _rejected(
    message: str = "The request you have made requires authentication.",
) -> Unauthenticated:
    return Unauthenticated("identity.ec2.rejected", message)


async def _credentials(req: ApiRequest) -> SignedCredentials:
    data = await req.json()
    if not isinstance(data, dict):
        raise InvalidInput("request.invalid", "The request body must be a JSON object.")
    found = data.get("credentials") or data.get("credential") or data.get("ec2Credentials") or {}
    creds = parse_model(SignedCredentials, found)
    if not creds.access or not creds.signature:
        raise _rejected("EC2 signature not supplied.")
    return creds


async def _stored(st: IdentityState, access: str) -> tuple[m.Credential, dict[str, Any]]:
    async with st.db.session() as s:
        row = await find_ec2(s, access)
    if row is None or row.type != EC2 or row.project_id is None:
        raise _rejected()
    try:
        blob = json.loads(st.credentials.decrypt(row.encrypted_blob))
    except json.JSONDecodeError:
        blob = None
    if not isinstance(blob, dict) or not isinstance(blob.get("secret"), str):
        raise _rejected()
    return row, blob


def _params(creds: SignedCredentials) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in creds.params.items()}


def _parse_time(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _rejected(f"Credential timestamp is invalid: {text[:64]}") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def _check_v2_time(params: dict[str, str]) -> None:
    """SigV2 carries ``Timestamp`` (valid ±15 minutes) or ``Expires``, as Keystone checks."""
    now = dt.datetime.now(dt.UTC)
    if (stamp := params.get("Timestamp")) and abs(now - _parse_time(stamp)) > sigv4.MAX_SKEW:
        raise _rejected("Credential is expired.")
    if (expires := params.get("Expires")) and now > _parse_time(expires):
        raise _rejected("Credential is expired.")


def _check_ec2(creds: SignedCredentials, secret: str) -> None:
    """Verify an EC2-style request: SigV2 if it says so, else SigV4 (header or query)."""
    params = _params(creds)
    if params.get("SignatureVersion") is not None:
        hosts = [creds.host, creds.host.rsplit(":", 1)[0]] if ":" in creds.host else [creds.host]
        for host in hosts:  # some clients sign without the port
            expected = sigv2.ec2_signature(secret, creds.verb, host, creds.path, params)
            if hmac.compare_digest(expected.encode(), str(creds.signature).encode()):
                _check_v2_time(params)
                return
        raise _rejected("Invalid EC2 signature.")
    headers = Headers(headers={k: v for k, v in creds.headers.items()})
    auth = sigv4.parse_authorization(headers, list(params.items()))
    if auth is None:
        raise _rejected("Unexpected signature format.")
    raw = list(creds.headers.items())
    if "host" not in headers and creds.host:
        raw.append(("host", creds.host))
    signed = sigv4.SignedRequest(
        method=creds.verb,
        canonical_uri=sigv4.canonical_uri(creds.path, s3=False),
        query=list(params.items()),
        headers=raw,
        payload_hash=creds.body_hash,
    )
    # The forwarded signature is the one that counts, as in Keystone; the header's copy
    # only names the scope and the signed headers.
    sigv4.verify(signed, dataclasses.replace(auth, signature=str(creds.signature)), secret)


def _check_s3(creds: SignedCredentials, secret: str) -> None:
    """Verify an S3 request from the string to sign that the S3 front end forwards."""
    try:
        to_sign = base64.urlsafe_b64decode(str(creds.token).encode())
    except (binascii.Error, ValueError):
        raise _rejected("Credential signature mismatch.") from None
    if to_sign.startswith(sigv4.ALGORITHM.encode()):
        text = to_sign.decode(errors="replace")
        scope = text.split("\n")[2] if text.count("\n") == 3 else ""
        if scope.split("/")[2:3] != ["s3"]:
            raise _rejected("Credential signature mismatch.")
        expected = sigv4.sign_string(secret, text)
    else:
        expected = sigv2.s3_signature(secret, to_sign)
    if not hmac.compare_digest(expected.encode(), str(creds.signature).encode()):
        raise _rejected("Credential signature mismatch.")


async def _token_for(st: IdentityState, row: m.Credential, blob: dict[str, Any]) -> Response:
    app_cred_id = blob.get("app_cred_id")
    payload = st.tokens.new_payload(
        row.user_id,
        ["ec2credential"],
        project_id=row.project_id,
        app_cred_id=app_cred_id if isinstance(app_cred_id, str) else None,
    )
    validated = await st.validator.describe(payload)  # 401 if user/project/roles unusable
    token = st.tokens.issue(payload)
    st.validator.remember(token, validated)
    return Response(
        validated.json(include_catalog=True),
        status_code=200,
        headers={SUBJECT: token},
        media_type="application/json",
    )


async def _authenticate(req: ApiRequest, *, s3: bool) -> Response:
    creds = await _credentials(req)
    st = state_of(req)
    row, blob = await _stored(st, str(creds.access))
    try:
        if s3 or creds.token is not None:
            _check_s3(creds, blob["secret"])
        else:
            _check_ec2(creds, blob["secret"])
    except (sigv4.MalformedSignature, sigv4.SignatureMismatch, sigv4.RequestExpired) as exc:
        raise _rejected(exc.message) from None
    return await _token_for(st, row, blob)


@routes.route("POST", "/v3/ec2tokens", rule=PUBLIC)
async def ec2tokens(req: ApiRequest) -> Response:
    """Authenticate an EC2-signed request and return a project-scoped token."""
    return await _authenticate(req, s3=False)


@routes.route("POST", "/v3/s3tokens", rule=PUBLIC)
async def s3tokens(req: ApiRequest) -> Response:
    """Authenticate an S3-signed request (the ``s3_token`` middleware's shape)."""
    return await _authenticate(req, s3=True)

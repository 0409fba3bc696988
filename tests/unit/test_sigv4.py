"""SigV4 verification against what botocore actually signs (EC2 style, S3, presigned)."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV2Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from requests.structures import CaseInsensitiveDict

from stratus.identity import sigv2, sigv4

ACCESS = "AKIDEXAMPLE0123456789"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDS = Credentials(ACCESS, SECRET)


def received(
    request: AWSRequest, *, s3: bool, presigned_s3: bool = False
) -> tuple[sigv4.SignedRequest, sigv4.Authorization]:
    """What a server sees of a botocore-signed request, parsed the way our front ends will."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = [(k, v) for k, v in prepared.headers.items()]
    headers.append(("Host", url.netloc))
    lookup = CaseInsensitiveDict(dict(headers))
    query = sigv4.parse_query(url.query)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    req = sigv4.SignedRequest(
        method=prepared.method,
        canonical_uri=sigv4.canonical_uri(url.path, s3=s3),
        query=query,
        headers=headers,
        payload_hash=sigv4.payload_hash(body, lookup, presigned_s3=presigned_s3),
    )
    auth = sigv4.parse_authorization(lookup, query)
    assert auth is not None
    return req, auth


def ec2_request(params: dict[str, str], path: str = "/") -> AWSRequest:
    request = AWSRequest(method="GET", url=f"http://127.0.0.1:8773{path}", params=params)
    SigV4Auth(CREDS, "ec2", "RegionOne").add_auth(request)
    return request


@pytest.mark.parametrize(
    "params",
    [
        {"Action": "DescribeInstances", "Version": "2016-11-15"},
        {"Action": "RunInstances", "UserData": "a b+c/d=e&f", "Name": "snow☃man", "Empty": ""},
        {"Filter.1.Name": "tag:Name", "Filter.1.Value.1": "*~!'()"},
    ],
)
def test_ec2_query_request_verifies(params: dict[str, str]) -> None:
    req, auth = received(ec2_request(params), s3=False)
    assert auth.access_key == ACCESS
    assert auth.scope == sigv4.Scope(auth.amz_date[:8], "RegionOne", "ec2")
    sigv4.verify(req, auth, SECRET)


def test_ec2_form_post_verifies() -> None:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8773/",
        data="Action=DescribeRegions&Version=2016-11-15",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(CREDS, "ec2", "RegionOne").add_auth(request)
    req, auth = received(request, s3=False)
    sigv4.verify(req, auth, SECRET)


def test_non_s3_path_is_normalised_and_double_encoded() -> None:
    req, auth = received(ec2_request({"A": "1"}, path="/v1/./x/../a%20b/"), s3=False)
    assert req.canonical_uri == "/v1/a%2520b/"
    sigv4.verify(req, auth, SECRET)


@pytest.mark.parametrize("key", ["plain.txt", "dir/sub dir/a+b!~(1).txt", "snow☃/100%.bin"])
def test_s3_header_auth_verifies(key: str) -> None:
    request = AWSRequest(
        method="PUT",
        url=f"http://127.0.0.1:8080/bucket/{quote(key, safe='/~')}",
        data=b"hello world",
        headers={"Content-Type": "text/plain"},
    )
    request.context["payload_signing_enabled"] = True
    S3SigV4Auth(CREDS, "s3", "RegionOne").add_auth(request)
    req, auth = received(request, s3=True)
    assert req.payload_hash == hashlib.sha256(b"hello world").hexdigest()
    sigv4.verify(req, auth, SECRET)


def test_s3_presigned_url_verifies() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8080/bucket/some%20key%2B.txt")
    S3SigV4QueryAuth(CREDS, "s3", "RegionOne", expires=300).add_auth(request)
    req, auth = received(request, s3=True, presigned_s3=True)
    assert auth.presigned and auth.expires == 300
    sigv4.verify(req, auth, SECRET)


def test_non_s3_presigned_url_verifies() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8773/", params={"Action": "X"})
    SigV4QueryAuth(CREDS, "ec2", "RegionOne", expires=60).add_auth(request)
    req, auth = received(request, s3=False)
    sigv4.verify(req, auth, SECRET)


def test_wrong_secret_is_a_mismatch() -> None:
    req, auth = received(ec2_request({"Action": "DescribeInstances"}), s3=False)
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(req, auth, SECRET + "x")


def test_tampered_parameter_is_a_mismatch() -> None:
    req, auth = received(ec2_request({"Action": "DescribeInstances"}), s3=False)
    tampered = sigv4.SignedRequest(
        req.method,
        req.canonical_uri,
        [("Action", "TerminateInstances")],
        req.headers,
        req.payload_hash,
    )
    with pytest.raises(sigv4.SignatureMismatch):
        sigv4.verify(tampered, auth, SECRET)


def test_old_signature_is_rejected() -> None:
    req, auth = received(ec2_request({"Action": "DescribeInstances"}), s3=False)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    with pytest.raises(sigv4.RequestExpired):
        sigv4.verify(req, auth, SECRET, now=later)
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    with pytest.raises(sigv4.RequestExpired):
        sigv4.verify(req, auth, SECRET, now=earlier)


def test_expired_presigned_url_is_rejected() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8080/bucket/k")
    S3SigV4QueryAuth(CREDS, "s3", "RegionOne", expires=60).add_auth(request)
    req, auth = received(request, s3=True, presigned_s3=True)
    with pytest.raises(sigv4.RequestExpired):
        sigv4.verify(req, auth, SECRET, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))


@pytest.mark.parametrize(
    "header",
    [
        "AWS4-HMAC-SHA256 Credential=AK/20240101/r/ec2/aws4_request, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AK/20240101/r/ec2, SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AK/20240102/r/ec2/aws4_request, SignedHeaders=host, "
        "Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AK/20240101/r/ec2/aws4_request, SignedHeaders=x-amz-date, "
        "Signature=ab",
    ],
)
def test_malformed_authorization_is_rejected(header: str) -> None:
    headers = {"authorization": header, "x-amz-date": "20240101T000000Z"}
    with pytest.raises(sigv4.MalformedSignature):
        sigv4.parse_authorization(headers, [])


def test_missing_signed_header_is_malformed() -> None:
    req, auth = received(ec2_request({"Action": "DescribeInstances"}), s3=False)
    stripped = sigv4.SignedRequest(
        req.method,
        req.canonical_uri,
        req.query,
        [(k, v) for k, v in req.headers if k.lower() != "x-amz-date"],
        req.payload_hash,
    )
    with pytest.raises(sigv4.MalformedSignature):
        sigv4.verify(stripped, auth, SECRET)


def test_unsigned_request_has_no_authorization() -> None:
    assert sigv4.parse_authorization({}, [("Action", "X")]) is None
    assert sigv4.parse_authorization({"authorization": "AWS AK:sig"}, []) is None


class CapturingS3Signer(S3SigV4Auth):
    """Keeps the string to sign, which the S3 token middleware forwards to /v3/s3tokens."""

    signed: str = ""

    def string_to_sign(self, request: AWSRequest, canonical_request: str) -> str:
        self.signed = super().string_to_sign(request, canonical_request)
        return self.signed


def test_sign_string_matches_botocore_signature() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:8080/bucket/k", data=b"")
    signer = CapturingS3Signer(CREDS, "s3", "RegionOne")
    signer.add_auth(request)
    header = request.prepare().headers["Authorization"]
    assert header.endswith("Signature=" + sigv4.sign_string(SECRET, signer.signed))


def test_sigv2_matches_botocore() -> None:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8773/",
        data={"Action": "DescribeInstances", "Note": "a b/c~"},
    )
    SigV2Auth(CREDS).add_auth(request)
    params = dict(request.data)
    expected = params["Signature"]
    assert sigv2.ec2_signature(SECRET, "POST", "127.0.0.1:8773", "/", params) == expected
    with pytest.raises(sigv4.MalformedSignature):
        sigv2.ec2_signature(SECRET, "POST", "h", "/", {**params, "SignatureVersion": "1"})

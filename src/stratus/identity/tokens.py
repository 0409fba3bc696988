"""Fernet-style tokens: who, how and for what scope, sealed with the shared key repository.

A token is the whole answer to "who is this": any node holding the keys checks it without
a database lookup of the token itself (roles, enablement and revocation are checked by the
validator). The payload is a small binary record rather than JSON so tokens stay about
200 characters: 32-hex ids pack into 16 bytes, audit ids into 16, times into 8.

Layout (version 1), big-endian::

    B version | B methods bitmask | B scope kind | B flags
    user id | scope id (project or domain scope) | app-cred id (if flag)
    Q issued_at (microseconds) | Q expires_at (microseconds)
    B audit id count | 16 bytes per audit id

A system-scoped token (Keystone's ``{"system": {"all": true}}``) has no scope id.
An id is ``0x00`` + 16 bytes when it is 32 lowercase hex characters, else its UTF-8 length
(1-255) followed by the bytes (Keystone's ``default`` domain id is not hex).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from stratus.common.errors import Unauthenticated

FORMAT_VERSION = 1
MAX_TOKEN_CHARS = 1024  # far above the ~250 a real token takes; bounds decoding work
AUTH_REQUIRED = "The request you have made requires authentication."

# Bit per method; the order is part of the stored format: append only.
METHODS: tuple[str, ...] = (
    "password",
    "token",
    "application_credential",
    "ec2credential",
    "totp",
    "external",
)
_METHOD_BIT = {name: 1 << i for i, name in enumerate(METHODS)}
_FLAG_APP_CRED = 0x01
_TIMES = struct.Struct(">QQ")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Scope(enum.IntEnum):
    UNSCOPED = 0
    PROJECT = 1
    DOMAIN = 2
    SYSTEM = 3


@dataclass(frozen=True, slots=True)
class TokenPayload:
    """What a token says. ``audit_ids`` is ``(own,)`` or ``(own, chain)`` after a rescope."""

    user_id: str
    methods: tuple[str, ...]
    issued_at: dt.datetime
    expires_at: dt.datetime
    audit_ids: tuple[str, ...]
    project_id: str | None = None
    domain_id: str | None = None
    app_cred_id: str | None = None
    system: bool = False  # scoped to the whole deployment ("all")

    @property
    def scope(self) -> Scope:
        if self.project_id is not None:
            return Scope.PROJECT
        if self.domain_id is not None:
            return Scope.DOMAIN
        if self.system:
            return Scope.SYSTEM
        return Scope.UNSCOPED

    @property
    def audit_id(self) -> str:
        return self.audit_ids[0]

    @property
    def audit_chain_id(self) -> str:
        """The audit id of the first token in a rescope chain (revokes the whole chain)."""
        return self.audit_ids[-1]


def new_audit_id() -> str:
    """16 random bytes, URL-safe base64 without padding: Keystone's audit id form."""
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


def invalid_token() -> Unauthenticated:
    return Unauthenticated("identity.token.invalid", AUTH_REQUIRED)


def expired_token() -> Unauthenticated:
    return Unauthenticated("identity.token.expired", AUTH_REQUIRED)


class TokenProvider:
    def __init__(self, keys: Sequence[bytes], expiration_s: int) -> None:
        self.expiration_s = expiration_s
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def use_keys(self, keys: Sequence[bytes]) -> None:
        """Switch to a rotated key set without a restart (the first key encrypts)."""
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def new_payload(
        self,
        user_id: str,
        methods: Sequence[str],
        *,
        project_id: str | None = None,
        domain_id: str | None = None,
        system: bool = False,
        app_cred_id: str | None = None,
        parent: TokenPayload | None = None,
        not_after: dt.datetime | None = None,
    ) -> TokenPayload:
        """A payload issued now. A rescoped token (``parent``) keeps its parent's expiry and
        audit chain, so rescoping can neither extend a token's life nor escape revocation."""
        now = dt.datetime.now(dt.UTC)
        expires = (now + dt.timedelta(seconds=self.expiration_s)).replace(microsecond=0)
        audit: tuple[str, ...] = (new_audit_id(),)
        if parent is not None:
            expires = min(expires, parent.expires_at)
            audit = (audit[0], parent.audit_chain_id)
        if not_after is not None:
            expires = min(expires, not_after)
        return TokenPayload(
            user_id=user_id,
            methods=tuple(dict.fromkeys(methods)),
            issued_at=now,
            expires_at=expires,
            audit_ids=audit,
            project_id=project_id,
            domain_id=domain_id if project_id is None else None,
            app_cred_id=app_cred_id,
            system=system and project_id is None and domain_id is None,
        )

    def issue(self, payload: TokenPayload) -> str:
        sealed = self._fernet.encrypt(pack(payload))
        return sealed.rstrip(b"=").decode("ascii")

    def decode(self, token: str, *, allow_expired: bool = False) -> TokenPayload:
        """Open and parse ``token``; any tamper, unknown key or garbage is ``invalid``."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise invalid_token()
        try:
            raw = token.encode("ascii")
            data = self._fernet.decrypt(raw + b"=" * (-len(raw) % 4))
            payload = unpack(data)
        except (InvalidToken, ValueError, IndexError, OverflowError, struct.error):
            raise invalid_token() from None
        if not allow_expired and payload.expires_at <= dt.datetime.now(dt.UTC):
            raise expired_token()
        return payload


def pack(p: TokenPayload) -> bytes:
    bits = 0
    for name in p.methods:
        if name not in _METHOD_BIT:
            raise ValueError(f"unknown authentication method {name!r}")
        bits |= _METHOD_BIT[name]
    scope_id = p.project_id or p.domain_id
    flags = _FLAG_APP_CRED if p.app_cred_id is not None else 0
    out = bytearray((FORMAT_VERSION, bits, p.scope, flags))
    out += _pack_id(p.user_id)
    if scope_id is not None:
        out += _pack_id(scope_id)
    if p.app_cred_id is not None:
        out += _pack_id(p.app_cred_id)
    out += _TIMES.pack(_micros(p.issued_at), _micros(p.expires_at))
    if not 1 <= len(p.audit_ids) <= 2:
        raise ValueError("a token carries one or two audit ids")
    out.append(len(p.audit_ids))
    for audit_id in p.audit_ids:
        out += _pack_audit(audit_id)
    return bytes(out)


def unpack(data: bytes) -> TokenPayload:
    """Parse a payload; raises ``ValueError``, ``IndexError``, ``OverflowError`` or
    ``struct.error`` on anything malformed (only reachable with a valid key: a bug or a
    newer format)."""
    if len(data) < 4 or data[0] != FORMAT_VERSION:
        raise ValueError("unknown token format")
    bits, kind, flags = data[1], Scope(data[2]), data[3]
    pos = 4
    user_id, pos = _unpack_id(data, pos)
    scope_id = None
    if kind in (Scope.PROJECT, Scope.DOMAIN):
        scope_id, pos = _unpack_id(data, pos)
    app_cred_id = None
    if flags & _FLAG_APP_CRED:
        app_cred_id, pos = _unpack_id(data, pos)
    issued, expires = _TIMES.unpack_from(data, pos)
    pos += _TIMES.size
    count = data[pos]
    audits = data[pos + 1 :]
    if count not in (1, 2) or len(audits) != 16 * count:
        raise ValueError("bad audit ids")
    return TokenPayload(
        user_id=user_id,
        methods=tuple(name for name in METHODS if bits & _METHOD_BIT[name]),
        issued_at=_from_micros(issued),
        expires_at=_from_micros(expires),
        audit_ids=tuple(_unpack_audit(audits[i : i + 16]) for i in range(0, len(audits), 16)),
        project_id=scope_id if kind is Scope.PROJECT else None,
        domain_id=scope_id if kind is Scope.DOMAIN else None,
        app_cred_id=app_cred_id,
        system=kind is Scope.SYSTEM,
    )


def _pack_id(value: str) -> bytes:
    if len(value) == 32 and value == value.lower():
        try:
            packed = bytes.fromhex(value)
        except ValueError:
            packed = b""
        if len(packed) == 16:
            return b"\x00" + packed
    raw = value.encode()
    if not 1 <= len(raw) <= 255:
        raise ValueError(f"id of {len(raw)} bytes cannot be sealed in a token")
    return bytes((len(raw),)) + raw


def _unpack_id(data: bytes, pos: int) -> tuple[str, int]:
    size = data[pos]
    if size == 0:
        chunk = data[pos + 1 : pos + 17]
        if len(chunk) != 16:
            raise ValueError("truncated id")
        return chunk.hex(), pos + 17
    chunk = data[pos + 1 : pos + 1 + size]
    if len(chunk) != size:
        raise ValueError("truncated id")
    return chunk.decode(), pos + 1 + size


def _pack_audit(audit_id: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(audit_id + "==")
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise ValueError(f"audit id {audit_id!r} is not 16 bytes of URL-safe base64")
    return raw


def _unpack_audit(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _micros(when: dt.datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)

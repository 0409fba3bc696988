"""Errors that carry a stable code and a kind, never an HTTP status.

Each API front end maps a kind to its own wire format (Keystone JSON, EC2 XML, ...);
the same error can therefore cross RPC and reach any API unchanged.
"""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    """What went wrong, in the terms an API layer needs to choose a status."""

    INVALID = "invalid"  # malformed or semantically wrong input
    UNAUTHENTICATED = "unauthenticated"  # no, bad, expired or revoked credentials
    FORBIDDEN = "forbidden"  # authenticated but not allowed
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # state or uniqueness conflict
    TOO_LARGE = "too_large"  # request body or entity over a limit
    QUOTA = "quota"  # over a quota
    UNAVAILABLE = "unavailable"  # a dependency is down or did not answer in time
    UNSUPPORTED_MEDIA = "unsupported_media"  # a body in a media type the call does not take
    UNSATISFIABLE = "unsatisfiable"  # a byte range outside the data
    INTERNAL = "internal"  # a bug: logged once with the request id


class StratusError(Exception):
    """An expected failure with a stable dotted code such as ``identity.user.not_found``."""

    kind: Kind = Kind.INTERNAL

    def __init__(self, code: str, message: str, *, kind: Kind | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if kind is not None:
            self.kind = kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class InvalidInput(StratusError):
    kind = Kind.INVALID


class Unauthenticated(StratusError):
    kind = Kind.UNAUTHENTICATED


class Forbidden(StratusError):
    kind = Kind.FORBIDDEN


class NotFound(StratusError):
    kind = Kind.NOT_FOUND


class Conflict(StratusError):
    kind = Kind.CONFLICT


class TooLarge(StratusError):
    kind = Kind.TOO_LARGE


class OverQuota(StratusError):
    kind = Kind.QUOTA


class Unavailable(StratusError):
    kind = Kind.UNAVAILABLE


class UnsupportedMedia(StratusError):
    kind = Kind.UNSUPPORTED_MEDIA


class Unsatisfiable(StratusError):
    kind = Kind.UNSATISFIABLE


_BY_KIND: dict[Kind, type[StratusError]] = {
    cls.kind: cls
    for cls in (
        InvalidInput,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        OverQuota,
        Unavailable,
        UnsupportedMedia,
        Unsatisfiable,
    )
}


def rebuild(code: str, message: str, kind: str) -> StratusError:
    """Recreate an error received over RPC as the matching subclass."""
    try:
        k = Kind(kind)
    except ValueError:
        k = Kind.INTERNAL
    cls = _BY_KIND.get(k, StratusError)
    return cls(code, message, kind=k)

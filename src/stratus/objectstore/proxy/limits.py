"""Swift's constraints: name and metadata limits, the largest single PUT, and ``/info``.

Everything a client could send too much of is checked here, before any backend is
contacted, so an oversized request costs the cluster nothing and is answered with the
status Swift clients expect (400 for names and metadata, 411/413 for bodies).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from stratus.objectstore.proxy.errors import LengthRequired, TooLarge, bad_request

_DIGITS = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True, slots=True)
class Constraints:
    """The limits announced at ``/info`` under ``swift``; the names are Swift's."""

    max_file_size: int = 5 * 1024**3  # one PUT; larger objects need segments (SLO/DLO)
    max_meta_name_length: int = 128
    max_meta_value_length: int = 256
    max_meta_count: int = 90
    max_meta_overall_size: int = 4096
    max_header_size: int = 8192
    max_object_name_length: int = 1024
    max_container_name_length: int = 256
    max_account_name_length: int = 256
    container_listing_limit: int = 10_000
    account_listing_limit: int = 10_000
    extra_header_count: int = 0

    def info(self) -> dict[str, object]:
        """The ``GET /info`` document: constraints plus what this proxy supports."""
        swift: dict[str, object] = dataclasses.asdict(self)
        swift.update(
            version="stratus",
            valid_api_versions=["v1"],
            strict_cors_mode=True,
            policies=[{"name": "Policy-0", "default": True}],
        )
        return {"swift": swift}

    def check_names(self, account: str, container: str | None, obj: str | None) -> None:
        _check_length("Account", account, self.max_account_name_length)
        if container is not None:
            _check_length("Container", container, self.max_container_name_length)
        if obj is not None:
            _check_length("Object", obj, self.max_object_name_length)

    @property
    def max_header_count(self) -> int:
        """Swift's: room for every metadata item plus the ordinary headers."""
        return self.max_meta_count + 15 + self.extra_header_count

    def check_headers(self, headers: Mapping[str, str], *, count: int) -> None:
        """No more than ``max_header_count`` headers, none longer than ``max_header_size``
        (Swift's HTTP server refuses both before the proxy sees them)."""
        if count > self.max_header_count:
            raise bad_request("Too many headers")
        for name, value in headers.items():
            if len(name) + len(value.encode()) > self.max_header_size:
                raise bad_request(f"Header value too long: {name[: self.max_meta_name_length]}")

    def check_metadata(self, headers: Mapping[str, str], kind: str) -> None:
        """User metadata (``X-<kind>-Meta-*``) within Swift's per-item and total limits."""
        prefix = f"x-{kind}-meta-"
        count = size = 0
        for name, value in headers.items():
            lname = name.lower()
            if not lname.startswith(prefix):
                continue
            key = lname[len(prefix) :]
            if not key:
                raise bad_request("Metadata name cannot be empty")
            if len(key.encode()) > self.max_meta_name_length:
                raise bad_request(f"Metadata name too long: {key}")
            if len(value.encode()) > self.max_meta_value_length:
                raise bad_request(f"Metadata value longer than {self.max_meta_value_length}")
            count += 1
            size += len(key.encode()) + len(value.encode())
        if count > self.max_meta_count:
            raise bad_request(f"Too many metadata items; max {self.max_meta_count}")
        if size > self.max_meta_overall_size:
            raise bad_request(f"Total metadata too large; max {self.max_meta_overall_size}")

    def body_length(self, headers: Mapping[str, str]) -> int | None:
        """The PUT body's announced length (``None`` when chunked), within the limit."""
        value = headers.get("content-length")
        if value is None:
            if "chunked" not in headers.get("transfer-encoding", "").lower():
                raise LengthRequired
            return None
        if not _DIGITS.fullmatch(value.strip()):
            raise bad_request("Invalid Content-Length")
        length = int(value)
        if length > self.max_file_size:
            raise TooLarge
        return length


def _check_length(kind: str, name: str, limit: int) -> None:
    size = len(name.encode())
    if size > limit:
        raise bad_request(f"{kind} name length of {size} longer than {limit}")

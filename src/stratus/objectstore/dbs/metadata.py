"""Container and account metadata from request headers, and Swift's limits on it.

Keys are stored as lower-case header names (``x-container-meta-color``), values as text
decoded strictly from UTF-8, each with the request's timestamp so that replicas merge
them key by key. An empty value (or ``X-Remove-<Kind>-Meta-<key>``) removes a key. The
limits count user metadata (``-meta-``) only, and apply to what the database holds after
the request, as Swift does: a request may not push a container over 90 keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stratus.common.errors import InvalidInput
from stratus.objectstore.dbs.rows import MetaValue
from stratus.objectstore.storage.timestamp import Timestamp

MAX_META_NAME = 128
MAX_META_VALUE = 256
MAX_META_COUNT = 90
MAX_META_OVERALL = 4096

# headers a container keeps besides meta and sysmeta (ACLs, sync, versioning)
CONTAINER_EXTRA = frozenset(
    {
        "x-container-read",
        "x-container-write",
        "x-container-sync-to",
        "x-container-sync-key",
        "x-versions-location",
        "x-history-location",
    }
)


def _bad(message: str) -> InvalidInput:
    return InvalidInput("objectstore.metadata.invalid", message)


@dataclass(frozen=True, slots=True)
class MetadataRules:
    """Which headers are metadata for one kind (``container`` or ``account``)."""

    kind: str

    @property
    def user_prefix(self) -> str:
        return f"x-{self.kind}-meta-"

    def stored_key(self, name: str) -> str | None:
        """The key a (lower-case) header name is stored under, or ``None``."""
        if name.startswith(f"x-remove-{self.kind}-"):
            name = "x-" + name[len("x-remove-") :]
        prefixes = (self.user_prefix, f"x-{self.kind}-sysmeta-")
        if any(name.startswith(p) and len(name) > len(p) for p in prefixes):
            return name
        if self.kind == "container" and name in CONTAINER_EXTRA:
            return name
        return None

    def from_headers(
        self, headers: Mapping[str, str], timestamp: Timestamp
    ) -> dict[str, MetaValue]:
        """The metadata items of a request (``headers``: lower-case names, UTF-8 text)."""
        items: dict[str, MetaValue] = {}
        for name, value in headers.items():
            key = self.stored_key(name)
            if key is None:
                continue
            removal = name.startswith("x-remove-")
            items[key] = ("" if removal else value.strip(), timestamp)
            self._check_item(key, items[key][0])
        return items

    def _check_item(self, key: str, value: str) -> None:
        if not key.startswith(self.user_prefix):
            return
        short = key[len(self.user_prefix) :]
        if len(short.encode()) > MAX_META_NAME:
            raise _bad(f"Metadata name too long; max {MAX_META_NAME}")
        if len(value.encode()) > MAX_META_VALUE:
            raise _bad(f"Metadata value longer than {MAX_META_VALUE}")

    def check_totals(self, live: Mapping[str, str]) -> None:
        """Raise when the merged user metadata is over Swift's count or size limits."""
        count = size = 0
        for key, value in live.items():
            if key.startswith(self.user_prefix):
                count += 1
                size += len(key[len(self.user_prefix) :].encode()) + len(value.encode())
        if count > MAX_META_COUNT:
            raise _bad(f"Too many metadata items; max {MAX_META_COUNT}")
        if size > MAX_META_OVERALL:
            raise _bad(f"Total metadata too large; max {MAX_META_OVERALL}")


CONTAINER_META = MetadataRules("container")
ACCOUNT_META = MetadataRules("account")

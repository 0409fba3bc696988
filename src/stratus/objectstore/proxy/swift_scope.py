"""What the proxy's middleware tell each other through the ASGI scope.

Swift's middleware pass state in the WSGI environ; ours use a few scope keys, each owned
by one module:

- ``CALLER``: the authenticated ``Caller``, set by ``middleware/authenticate.py`` (or by a
  middleware that grants access itself, such as TempURL). A request that arrives with one
  is not authenticated again; subrequests inherit their parent's.
- ``INTERNAL``: set on subrequests made by middleware. Only these may carry sysmeta
  (``X-*-Sysmeta-*``) and reach hidden accounts; the gatekeeper strips the rest.
- ``SOURCE``: which middleware made a subrequest (for logs, and so a middleware can
  leave its own subrequests alone).
- ``RESOURCE_INFO``: container and account headers already read for this request
  (``middleware/resource_info.py``), so no layer below asks again.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

from stratus.objectstore.asgi_io import query_params, utf8_headers
from stratus.objectstore.proxy.auth import Caller
from stratus.objectstore.proxy.request import split_path
from stratus.objectstore.storage.server_request import request_path

CALLER = "stratus.swift.caller"
INTERNAL = "stratus.swift.internal"
SOURCE = "stratus.swift.source"
# ``{path: headers}`` of containers/accounts a middleware above read in this request
RESOURCE_INFO = "stratus.swift.resource_info"


def caller_of(scope: Scope) -> Caller | None:
    found = scope.get(CALLER)
    return found if isinstance(found, Caller) else None


def is_internal(scope: Scope) -> bool:
    return bool(scope.get(INTERNAL))


def source_of(scope: Scope) -> str:
    return str(scope.get(SOURCE, ""))


@dataclass(frozen=True, slots=True)
class RequestView:
    """A ``/v1/...`` request as a middleware sees it, decoded strictly; ``of`` returns
    ``None`` for any other path (middleware pass those through untouched)."""

    method: str
    path: str
    account: str
    container: str | None
    obj: str | None
    headers: dict[str, str]
    query: dict[str, str]

    @classmethod
    def of(cls, scope: Scope) -> RequestView | None:
        """Raises ``InvalidInput`` for undecodable names, headers or queries (a 400)."""
        if scope["type"] != "http":
            return None
        path = request_path(scope)
        if not path.startswith("/v1/"):
            return None
        account, container, obj = split_path(path)
        return cls(
            scope["method"],
            path,
            account,
            container,
            obj,
            utf8_headers(scope),
            query_params(scope),
        )

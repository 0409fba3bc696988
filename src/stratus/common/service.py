"""What every service implements so that one process can run any set of them.

``stratus up`` and ``stratus serve`` build a ``Runtime`` (settings, the bus, the host name)
and start each chosen service on it; an HTTP service also hands back its ASGI app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from starlette.types import ASGIApp

if TYPE_CHECKING:
    from stratus.common.db.migrate import MigrationSet
    from stratus.common.rpc import Bus
    from stratus.settings import Settings


@dataclass(frozen=True)
class CatalogEntry:
    """How a running HTTP service appears in the identity catalog."""

    type: str
    name: str
    path: str = ""  # appended to http://host:port, may hold %(project_id)s


@dataclass
class Runtime:
    settings: Settings
    bus: Bus
    host: str
    # URLs of every HTTP service in this deployment, by service name (for the catalog).
    public_urls: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpApi:
    app: ASGIApp
    port: int


class Service(Protocol):
    """One service: started once, stopped once; optional HTTP API and tables."""

    name: str
    catalog: tuple[CatalogEntry, ...]

    def migrations(self) -> tuple[MigrationSet, ...]:
        """Migration sets of the tables this service owns (empty for stateless services)."""
        ...

    async def start(self, runtime: Runtime) -> HttpApi | None:
        """Connect, migrate-check, subscribe; return the HTTP API to serve, if any."""
        ...

    async def stop(self) -> None: ...

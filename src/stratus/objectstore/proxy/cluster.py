"""The cluster as the proxy sees it: settings, rings, the backend client and auth.

One ``Cluster`` is built at start and shared by every request; it holds no per-request
state, which is what makes the proxy stateless and any number of them interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stratus.objectstore.proxy.auth import ProxyAuth
from stratus.objectstore.proxy.backend import Backend
from stratus.objectstore.proxy.container_rows import ContainerRows
from stratus.objectstore.proxy.info_cache import InfoCache
from stratus.objectstore.proxy.limits import Constraints
from stratus.objectstore.proxy.placement import ErrorLimiter, Placement, Rings
from stratus.objectstore.storage.layout import PathHasher


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    constraints: Constraints = field(default_factory=Constraints)
    # create an account on its first container PUT (and list a missing one as empty)
    account_autocreate: bool = True
    # seconds to wait for each piece of a client's request body
    client_timeout: float = 60.0
    # seconds to connect to a storage node, and to wait for each read/write from it
    conn_timeout: float = 0.5
    node_timeout: float = 10.0
    # seconds for the container listing update after an object write
    container_update_timeout: float = 2.0
    # ``<root>/<device>`` where updates a container server missed are queued as
    # ``async_pending`` files for the updater daemon; None drops them (logged)
    pending_device: Path | None = None
    # errors before a storage node is skipped, and for how long (seconds)
    error_limit: int = 10
    error_suppression: float = 60.0
    # seconds this proxy trusts account/container metadata it read (ACLs, TempURL keys,
    # CORS) before asking again; changes made through other proxies show up that late
    info_ttl: float = 5.0
    # CORS for every container: origins allowed besides each container's own list, and
    # response headers pages may read; strict mode gives CORS headers to allowed
    # origins only (Swift's ``cors_allow_origin``, ``cors_expose_headers``,
    # ``strict_cors_mode``)
    cors_allow_origin: tuple[str, ...] = ()
    cors_expose_headers: tuple[str, ...] = ()
    strict_cors_mode: bool = True


class Cluster:
    def __init__(self, config: ProxyConfig, rings: Rings, auth: ProxyAuth) -> None:
        self.config = config
        self.rings = rings
        self.auth = auth
        self.limiter = ErrorLimiter(
            threshold=config.error_limit, suppression=config.error_suppression
        )
        # ``GET /info`` sections that middleware add about themselves (Swift's way of
        # announcing features: clients such as the swift CLI read them)
        self.capabilities: dict[str, dict[str, object]] = {}
        self.info_cache = InfoCache(config.info_ttl)
        self.backend = Backend(
            self.limiter, conn_timeout=config.conn_timeout, node_timeout=config.node_timeout
        )
        self.container_rows = ContainerRows(self.backend, timeout=config.container_update_timeout)

    @property
    def constraints(self) -> Constraints:
        return self.config.constraints

    def hasher(self) -> PathHasher:
        """The cluster's name hash secret, as the object ring carries it."""
        ring = self.rings.object()
        return PathHasher(ring.hash_prefix.encode(), ring.hash_suffix.encode())

    def account_nodes(self, account: str) -> Placement:
        ring = self.rings.account()
        return Placement(ring, ring.partition(account), self.limiter)

    def container_nodes(self, account: str, container: str) -> Placement:
        ring = self.rings.container()
        return Placement(ring, ring.partition(account, container), self.limiter)

    def object_nodes(self, account: str, container: str, obj: str) -> Placement:
        ring = self.rings.object()
        return Placement(ring, ring.partition(account, container, obj), self.limiter)

    async def close(self) -> None:
        await self.container_rows.close()
        await self.backend.aclose()

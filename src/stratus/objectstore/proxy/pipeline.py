"""The proxy's middleware pipeline, outermost first, around the core ``ProxyApp``.

Order matters and follows from what each one needs: the gatekeeper sees the client's
request before anyone trusts a header; CORS answers browsers' preflights, which carry
no credentials, and labels the responses it lets through; FormPOST and TempURL vouch for
a caller before authentication would refuse an anonymous one. Bulk needs the caller (its
subrequests carry no token); server-side copy turns COPY into a GET and a PUT that every
layer below sees as ordinary requests (so quotas count a copy, a large object copies as
its data); quotas then see every write; SLO and DLO assemble large objects from their
segments; versioning sits lowest, like Swift's, so it archives exactly what is stored.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp

from stratus.objectstore.middleware.account_quotas import AccountQuotas
from stratus.objectstore.middleware.authenticate import Authenticate
from stratus.objectstore.middleware.bulk import Bulk
from stratus.objectstore.middleware.container_quotas import ContainerQuotas
from stratus.objectstore.middleware.copy import ServerSideCopy
from stratus.objectstore.middleware.cors import Cors
from stratus.objectstore.middleware.dlo import DynamicLargeObjects
from stratus.objectstore.middleware.formpost import FormPost
from stratus.objectstore.middleware.gatekeeper import Gatekeeper
from stratus.objectstore.middleware.slo import StaticLargeObjects
from stratus.objectstore.middleware.tempurl import TempURL
from stratus.objectstore.middleware.versioned_writes import VersionedWrites
from stratus.objectstore.proxy.cluster import Cluster

Middleware = Callable[[ASGIApp, Cluster], ASGIApp]

MIDDLEWARE: tuple[Middleware, ...] = (
    Gatekeeper,
    Cors,
    FormPost,
    TempURL,
    Authenticate,
    Bulk,
    ServerSideCopy,
    ContainerQuotas,
    AccountQuotas,
    StaticLargeObjects,
    DynamicLargeObjects,
    VersionedWrites,
)


def assemble(core: ASGIApp, cluster: Cluster) -> ASGIApp:
    """Wrap ``core`` in every middleware: ``MIDDLEWARE[0]`` ends up outermost."""
    app = core
    for middleware in reversed(MIDDLEWARE):
        app = middleware(app, cluster)
    return app

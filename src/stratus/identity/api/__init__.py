"""The Keystone v3 routes, one module per resource; ``ALL_ROUTES`` is what the app serves."""

from __future__ import annotations

from stratus.common.asgi.routing import RouteSpec
from stratus.identity.api import (
    app_credentials,
    assignments,
    auth,
    catalog,
    credentials,
    domains,
    ec2tokens,
    groups,
    projects,
    roles,
    users,
    versions,
)

_MODULES = (
    versions,
    auth,
    domains,
    projects,
    users,
    groups,
    roles,
    assignments,
    catalog,
    app_credentials,
    credentials,
    ec2tokens,
)


def all_routes() -> list[RouteSpec]:
    return [spec for module in _MODULES for spec in module.routes.specs]

"""The Keystone v3 routes, one module per resource; ``ALL_ROUTES`` is what the app serves."""

from __future__ import annotations

from stratus.common.asgi.routing import RouteSpec
from stratus.identity.api import (
    app_credentials,
    assignments,
    auth,
    auth_scopes,
    catalog,
    credentials,
    domains,
    ec2tokens,
    groups,
    implied_roles,
    policies,
    projects,
    roles,
    system_grants,
    users,
    versions,
)

_MODULES = (
    versions,
    auth,
    auth_scopes,
    domains,
    projects,
    users,
    groups,
    roles,
    implied_roles,
    assignments,
    system_grants,
    catalog,
    app_credentials,
    credentials,
    ec2tokens,
    policies,
)


def all_routes() -> list[RouteSpec]:
    return [spec for module in _MODULES for spec in module.routes.specs]

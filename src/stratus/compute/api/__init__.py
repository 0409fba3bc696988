"""Nova v2.1 routes."""

from __future__ import annotations

from stratus.common.asgi.routing import RouteSpec


def all_routes() -> list[RouteSpec]:
    from stratus.compute.api import (  # noqa: PLC0415 - import on demand
        action_handlers,
        aggregates,
        compute_services,
        flavor_extras,
        flavors,
        hypervisors,
        instance_actions,
        keypairs,
        quota_sets,
        server_create,
        server_groups,
        server_metadata,
        servers,
        usage,
        versions,
        zones,
    )

    modules = (
        versions,
        flavors,
        flavor_extras,
        keypairs,
        server_create,
        servers,
        server_metadata,
        action_handlers,
        zones,
        quota_sets,
        instance_actions,
        server_groups,
        hypervisors,
        compute_services,
        aggregates,
        usage,
    )
    return [spec for module in modules for spec in module.routes.specs]

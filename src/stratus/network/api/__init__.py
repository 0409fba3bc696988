"""Neutron v2.0 routes."""

from __future__ import annotations

from stratus.common.asgi.routing import RouteSpec


def all_routes() -> list[RouteSpec]:
    from stratus.network.api import (  # noqa: PLC0415 - import on demand
        auto_allocated,
        extensions,
        floating_ips,
        networks,
        port_forwardings,
        ports,
        quotas,
        router_interfaces,
        routers,
        security_group_rules,
        security_groups,
        subnets,
        versions,
    )

    modules = (
        versions,
        extensions,
        networks,
        subnets,
        ports,
        security_groups,
        security_group_rules,
        quotas,
        routers,
        router_interfaces,
        floating_ips,
        port_forwardings,
        auto_allocated,
    )
    return [spec for module in modules for spec in module.routes.specs]

"""Glance v2 routes."""

from __future__ import annotations

from stratus.common.asgi.routing import RouteSpec


def all_routes() -> list[RouteSpec]:
    from stratus.image.api import (  # noqa: PLC0415 - import on demand
        data,
        images,
        imports,
        members,
        schemas,
        tags,
        versions,
    )

    modules = (versions, schemas, images, tags, members, data, imports)
    return [spec for module in modules for spec in module.routes.specs]

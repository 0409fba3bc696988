"""The service catalog in Keystone's v3 format, built from the services/endpoints tables.

Every token response and every cache miss of validation needs it, while it changes only
when an operator edits services or endpoints; so the rows are loaded once and the rendered
list is kept per project until ``invalidate()``.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from stratus.common.db import Database
from stratus.identity.models import CatalogService, Endpoint

# Keystone accepts both the Python-format and the legacy "$(...)s" spelling in URLs.
_PLACEHOLDER = re.compile(r"[%$]\((\w+)\)s")
_PROJECT_KEYS = frozenset({"project_id", "tenant_id"})
_MAX_RENDERED = 1024  # distinct projects whose rendered catalog is kept

CatalogJson = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class CatalogEndpoint:
    id: str
    interface: str
    region_id: str | None
    url: str


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    id: str
    type: str
    name: str
    endpoints: tuple[CatalogEndpoint, ...]


def substitute(url: str, project_id: str | None) -> str | None:
    """``url`` with project placeholders filled, or ``None`` when it cannot be filled.

    An endpoint whose URL names the project is useless without one (an unscoped token)
    and one with an unknown placeholder is malformed: Keystone leaves both out.
    """
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        if match.group(1) in _PROJECT_KEYS and project_id is not None:
            return project_id
        missing = True
        return match.group(0)

    filled = _PLACEHOLDER.sub(fill, url)
    return None if missing else filled


def render(entries: Sequence[ServiceEntry], project_id: str | None) -> CatalogJson:
    """The ``catalog`` list of a token body for a token scoped to ``project_id``."""
    out: CatalogJson = []
    for entry in entries:
        endpoints = []
        for ep in entry.endpoints:
            url = substitute(ep.url, project_id)
            if url is None:
                continue
            endpoints.append(
                {
                    "id": ep.id,
                    "interface": ep.interface,
                    "region": ep.region_id,
                    "region_id": ep.region_id,
                    "url": url,
                }
            )
        out.append({"id": entry.id, "type": entry.type, "name": entry.name, "endpoints": endpoints})
    return out


async def load_entries(db: Database) -> tuple[ServiceEntry, ...]:
    """Enabled services with their enabled endpoints, in a stable order."""
    async with db.session() as s:
        services = (
            await s.execute(
                sa.select(CatalogService.id, CatalogService.type, CatalogService.name)
                .where(CatalogService.enabled.is_(True))
                .order_by(CatalogService.type, CatalogService.id)
            )
        ).all()
        endpoints = (
            await s.execute(
                sa.select(
                    Endpoint.service_id,
                    Endpoint.id,
                    Endpoint.interface,
                    Endpoint.region_id,
                    Endpoint.url,
                )
                .where(Endpoint.enabled.is_(True))
                .order_by(Endpoint.interface, Endpoint.id)
            )
        ).all()
    by_service: dict[str, list[CatalogEndpoint]] = {}
    for service_id, eid, interface, region_id, url in endpoints:
        endpoint = CatalogEndpoint(eid, interface, region_id, url)
        by_service.setdefault(service_id, []).append(endpoint)
    return tuple(
        ServiceEntry(sid, stype, name or "", tuple(by_service.get(sid, ())))
        for sid, stype, name in services
    )


class CatalogCache:
    """Catalog rows loaded once; rendered catalogs kept per project, both dropped on change."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._entries: tuple[ServiceEntry, ...] | None = None
        self._rendered: OrderedDict[str | None, CatalogJson] = OrderedDict()
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1
        self._entries = None
        self._rendered.clear()

    async def entries(self) -> tuple[ServiceEntry, ...]:
        if self._entries is not None:
            return self._entries
        async with self._lock:
            if self._entries is None:
                generation = self._generation
                loaded = await load_entries(self._db)
                if generation != self._generation:  # changed while loading: don't keep it
                    return loaded
                self._entries = loaded
            return self._entries

    async def for_project(self, project_id: str | None) -> CatalogJson:
        """The rendered catalog for a token scoped to ``project_id`` (shared: do not mutate)."""
        cached = self._rendered.get(project_id)
        if cached is not None:
            return cached
        generation = self._generation
        rendered = render(await self.entries(), project_id)
        if generation == self._generation:
            self._rendered[project_id] = rendered
            while len(self._rendered) > _MAX_RENDERED:
                self._rendered.popitem(last=False)
        return rendered

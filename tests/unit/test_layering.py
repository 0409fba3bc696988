"""Agents and drivers run on hosts without database credentials: they must never import the
SQL layer, even indirectly. Any package named like an agent or a driver is checked, so a
new one is covered the day it is added."""

from __future__ import annotations

import grimp

FORBIDDEN = ("stratus.common.db", "sqlalchemy", "alembic", "aiosqlite", "asyncpg", "aiomysql")
AGENT_LIKE = ("agent", "virt", "drivers", "backends", "reporter")
ALWAYS = (
    "stratus.common.rpc",
    "stratus.registry.reporter",
    "stratus.registry.rpc",
    "stratus.identity.client",  # API nodes authenticate without identity's DB credentials
    "stratus.identity.rpc",
    "stratus.compute.rpc",  # agents get everything they need in messages
    "stratus.scheduler.rpc",
)


def agent_modules(graph: grimp.ImportGraph) -> list[str]:
    found = set(ALWAYS)
    for module in graph.modules:
        if module.startswith("stratus.") and any(p in AGENT_LIKE for p in module.split(".")):
            found.add(module)
    return sorted(m for m in found if m in graph.modules)


def test_agent_and_driver_modules_never_reach_the_database() -> None:
    graph = grimp.build_graph("stratus", include_external_packages=True)
    modules = agent_modules(graph)
    assert "stratus.common.rpc" in modules
    chains = []
    for module in modules:
        for target in FORBIDDEN:
            if target not in graph.modules:
                continue
            chain = graph.find_shortest_chain(importer=module, imported=target)
            if chain:
                chains.append(" -> ".join(chain))
    assert not chains, "agent/driver code imports the SQL layer:\n" + "\n".join(chains)

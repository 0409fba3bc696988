"""Which agent runs each router: one host per router, chosen among live L3 agents.

An agent can host a router when it said ``l3`` in its last ``GetHostConfig`` and can
reach the router's external network (it has the uplink of a flat/VLAN network's physical
network, or a VXLAN endpoint); a router without a gateway can go on any L3 agent. A
router stays where it is while that host is alive and able; otherwise it goes to the
candidate with the highest hash of (router id, host), so the choice is stable and a new
agent only takes the routers it wins. The legs (gateway and interface ports) are bound to
the chosen host (``binding:host_id``), so that host's config carries their networks, its
VXLAN peers learn it, and its ``PortStatus`` reports them; moving a router binds them to
the new host with status ``DOWN`` until it wires them.

Agents are known from their calls to this process (they resync on a timer); one not
heard from for ``down_time`` seconds is gone. A host bound before this process started is
presumed alive for ``down_time`` after the start, so a restarted service does not move
every router to the first agent that calls.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import l3
from stratus.network import models as m

LEGS = (l3.GATEWAY, l3.INTERFACE)


@dataclass(frozen=True)
class L3Agent:
    host: str
    physical_networks: frozenset[str]
    vxlan: bool
    seen: float


@dataclass
class L3Agents:
    down_time: float = 120.0
    clock: Callable[[], float] = time.monotonic
    agents: dict[str, L3Agent] = field(default_factory=dict)
    refusing: set[str] = field(default_factory=set)  # agents that said they run no routers
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    def learn(self, host: str, l3_capable: bool, physical: list[str], vxlan: bool) -> bool:
        """Record an agent's call; return whether what it can host changed."""
        old = self.agents.pop(host, None)
        if l3_capable:
            self.agents[host] = L3Agent(host, frozenset(physical), vxlan, self.clock())
            self.refusing.discard(host)
        else:
            self.refusing.add(host)
        was = None if old is None else (old.physical_networks, old.vxlan)
        now = (frozenset(physical), vxlan) if l3_capable else None
        return was != now

    def alive(self, host: str) -> bool:
        agent = self.agents.get(host)
        last = agent.seen if agent is not None else self.started
        return self.clock() - last < self.down_time

    def can_host(self, host: str, external: m.Network | None) -> bool:
        if host in self.refusing:
            return False
        agent = self.agents.get(host)
        if agent is None:  # bound before this process knew it: presumed able
            return self.alive(host)
        if not self.alive(host):
            return False
        if external is None:
            return True
        if external.network_type == "vxlan":
            return agent.vxlan
        return external.physical_network in agent.physical_networks


def _score(router_id: str, host: str) -> bytes:
    return hashlib.sha256(f"{router_id}/{host}".encode()).digest()


def choose(router_id: str, current: str, candidates: list[str]) -> str:
    """``current`` if it is a candidate, else the highest-scoring one ("" if none)."""
    if current and current in candidates:
        return current
    if not candidates:
        return ""
    return max(candidates, key=lambda h: _score(router_id, h))


async def moves(session: AsyncSession, agents: L3Agents) -> dict[str, str]:
    """The routers whose legs are not bound where they should be: router id -> host."""
    routers = list(await session.scalars(sa.select(m.Router)))
    if not routers:
        return {}
    bound: dict[str, set[str]] = {}
    rows = await session.execute(
        sa.select(m.Port.device_id, m.Port.binding_host_id).where(m.Port.device_owner.in_(LEGS))
    )
    for router_id, host in rows:
        bound.setdefault(router_id, set()).add(host)
    externals = {
        n.id: n
        for n in await session.scalars(
            sa.select(m.Network).where(
                m.Network.id.in_({r.gw_network_id for r in routers if r.gw_network_id})
            )
        )
    }
    found: dict[str, str] = {}
    for router in routers:
        hosts = bound.get(router.id, set())
        if not hosts:
            continue  # no legs yet: nothing to run
        external = externals.get(router.gw_network_id or "")
        current = next((h for h in sorted(hosts) if h), "")
        able = [h for h in agents.agents if agents.can_host(h, external)]
        if current and current not in able and agents.can_host(current, external):
            able.append(current)
        want = choose(router.id, current, able)
        if hosts != {want}:
            found[router.id] = want
    return found


async def bind(session: AsyncSession, placed: dict[str, str]) -> None:
    """Bind each router's legs to its host (status DOWN until that host wires them)."""
    for router_id, host in placed.items():
        await session.execute(
            sa.update(m.Port)
            .where(
                m.Port.device_id == router_id,
                m.Port.device_owner.in_(LEGS),
                m.Port.binding_host_id != host,
            )
            .values(binding_host_id=host, status="DOWN")
        )

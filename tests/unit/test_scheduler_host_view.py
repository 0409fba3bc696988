"""A reload of the view never forgets a claim the database snapshot may have missed."""

from __future__ import annotations

import asyncio

from scheduler_hosts import host
from stratus.scheduler.host_state import Amounts, Claim, HostState, HostStates, HostView

GIB = Amounts(1, 1024, 10)


def fresh() -> HostStates:
    return HostStates.of([host("a"), host("b")])


def used(view: HostView, name: str) -> int:
    return view.states.by_name[name].memory_mb_used


async def test_claims_in_flight_or_committed_during_a_reload_are_applied_again() -> None:
    view = HostView(fresh())
    in_flight = Claim("i-1", "a", GIB)
    committed_meanwhile = Claim("i-2", "b", GIB, server_group_id="g")
    view.apply(in_flight)
    snapshot_taken = asyncio.Event()
    finish = asyncio.Event()

    async def load() -> HostStates:
        snapshot_taken.set()
        await finish.wait()
        return fresh()  # a snapshot that holds neither claim

    reload = asyncio.create_task(view.reload(load))
    await snapshot_taken.wait()
    view.apply(committed_meanwhile)
    view.committed(committed_meanwhile)
    finish.set()
    await reload
    assert (used(view, "a"), used(view, "b")) == (1024, 1024)
    assert view.states.group_hosts == {"g": {"b": 1}}


async def test_abandoned_and_older_committed_claims_are_not_applied_again() -> None:
    view = HostView(fresh())
    old = Claim("i-1", "a", GIB)
    view.apply(old)
    view.committed(old)  # before the reload: the snapshot holds it
    refused = Claim("i-2", "b", GIB)
    view.apply(refused)
    view.abandon(refused)
    assert used(view, "b") == 0

    async def load() -> HostStates:
        states = fresh()
        states.by_name["a"].consume(GIB)  # the database has the committed claim
        return states

    await view.reload(load)
    assert (used(view, "a"), used(view, "b")) == (1024, 0)


async def test_reloading_one_host_keeps_its_claims_in_flight() -> None:
    view = HostView(fresh())
    view.apply(Claim("i-1", "a", GIB))

    async def load_one(old: HostState) -> HostState | None:
        return host(old.name, memory_mb_used=4096)  # another scheduler's claims

    await view.reload_host("a", load_one)
    assert used(view, "a") == 4096 + 1024
    assert view.states.hosts[0] is view.states.by_name["a"]


async def test_a_host_whose_row_vanished_takes_nothing_more() -> None:
    view = HostView(fresh())

    async def gone(old: HostState) -> HostState | None:
        return None

    await view.reload_host("a", gone)
    assert not view.states.by_name["a"].enabled

"""os-services and os-hypervisors against the registry's heartbeats: ``stratus up`` on
RabbitMQ, with this test playing a compute agent's heartbeat on the same bus."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stratus.common.rpc import connect
from stratus.registry.rpc import TOPIC, Heartbeat

sys.path.insert(0, str(Path(__file__).parents[1] / "functional"))
from compute_clients import client, fault

from cloudproc import Cloud, free_port

pytestmark = pytest.mark.integration
HOST = f"hv-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def bus_cloud(tmp_path: Path, amqp_url: str, amqp_exchange: str) -> Iterator[Cloud]:
    env = {"STRATUS_BUS__URL": amqp_url, "STRATUS_BUS__EXCHANGE": amqp_exchange}
    cloud = Cloud(state_dir=tmp_path / "state", identity_port=free_port(), extra_env=env)
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


def _add_node(cloud: Cloud) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        db.execute(
            "INSERT INTO compute_nodes (host, hypervisor_hostname, hypervisor_type,"
            " hypervisor_version, cpu_arch, vcpus, memory_mb, local_gb, vcpus_used,"
            " memory_mb_used, local_gb_used, running_vms, availability_zone, disabled,"
            " forced_down, last_seen, created_at)"
            " VALUES (?, ?, 'fake', 1, 'x86_64', 8, 8192, 100, 0, 0, 0, 0, 'nova', 0, 0, ?, ?)",
            (HOST, HOST, now, now),
        )


def _node_flags(cloud: Cloud) -> tuple[int, str | None, int]:
    with sqlite3.connect(cloud.state_dir / "compute.sqlite", timeout=30) as db:
        row = db.execute(
            "SELECT disabled, disabled_reason, forced_down FROM compute_nodes WHERE host = ?",
            (HOST,),
        ).fetchone()
    return int(row[0]), row[1], int(row[2])


async def _agent_heartbeat(amqp_url: str, exchange: str) -> None:
    bus = await connect(amqp_url, exchange=exchange, call_timeout=10)
    try:
        beat = Heartbeat(host=HOST, binary="stratus-compute-agent", topic="compute")
        await bus.cast(TOPIC, beat)
    finally:
        await bus.close()


def _service(admin: httpx.Client) -> dict[str, Any] | None:
    services = admin.get("/os-services", params={"binary": "nova-compute"}).json()["services"]
    return next((s for s in services if s["host"] == HOST), None)


async def test_disable_enable_force_down(
    bus_cloud: Cloud, amqp_url: str, amqp_exchange: str
) -> None:
    _add_node(bus_cloud)
    await _agent_heartbeat(amqp_url, amqp_exchange)
    with client(bus_cloud, "stratus-admin") as admin:
        for _ in range(200):  # the cast reaches the registry asynchronously
            service = await asyncio.to_thread(_service, admin)
            if service is not None:
                break
            await asyncio.sleep(0.05)
        assert service is not None and service["state"] == "up"
        assert service["status"] == "enabled" and service["zone"] == "nova"
        hypervisor = next(
            h
            for h in admin.get("/os-hypervisors").json()["hypervisors"]
            if h["hypervisor_hostname"] == HOST
        )
        assert hypervisor["state"] == "up"
        off = admin.put(
            f"/os-services/{service['id']}",
            json={"status": "disabled", "disabled_reason": "maintenance"},
        )
        assert off.json()["service"]["status"] == "disabled", off.text
        assert _node_flags(bus_cloud) == (1, "maintenance", 0)
        hypervisor = admin.get(f"/os-hypervisors/{hypervisor['id']}").json()["hypervisor"]
        assert hypervisor["status"] == "disabled"
        down = admin.put(f"/os-services/{service['id']}", json={"forced_down": True})
        assert down.json()["service"]["state"] == "down"
        assert _node_flags(bus_cloud)[2] == 1
        legacy = admin.put(
            "/os-services/enable",
            json={"host": HOST, "binary": "nova-compute"},
            headers={"OpenStack-API-Version": "compute 2.10"},
        )
        assert legacy.json()["service"]["status"] == "enabled", legacy.text
        fault(
            admin.put(f"/os-services/{service['id']}", json={"status": "sleepy"}), 400, "badRequest"
        )

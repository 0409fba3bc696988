"""IPAM under concurrency: two network API processes (``stratus serve``) on one
database (PostgreSQL, then MariaDB) and RabbitMQ, many port creates at once on a /28.

The only thing standing between two racing creates and a duplicate address is the
(subnet, address) primary key and the retry; this drives exactly that race across
processes (and, with several projects, inside each process too).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudproc import BIN, clean_env, free_port

pytestmark = pytest.mark.integration

START_TIMEOUT = 60.0  # a bound on start-up, not a speed expectation
STOP_TIMEOUT = 15.0
PROJECTS = [f"{i:032x}" for i in range(1, 5)]  # port owners, so creates also race in-process


@dataclass
class Node:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.url}/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not start:\n{self.output()}")
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


@dataclass
class Deployment:
    token: str
    urls: tuple[str, str]


@pytest.fixture(params=["postgres", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def deployment(
    tmp_path: Path, db_url: str, amqp_url: str, amqp_exchange: str
) -> Iterator[Deployment]:
    q = json.dumps
    config = tmp_path / "stratus.toml"
    identity_port = free_port()
    config.write_text(
        f"state_dir = {q(str(tmp_path / 'state'))}\n"
        f"[database]\nurl = {q(db_url)}\n"
        f"[bus]\nurl = {q(amqp_url)}\nexchange = {q(amqp_exchange)}\ncall_timeout = 10.0\n"
        f"[identity]\nport = {identity_port}\n"
        "password_hash_memory_kib = 8192\npassword_hash_iterations = 1\n"
    )
    env = clean_env() | {"OS_CLIENT_CONFIG_FILE": str(tmp_path / "state" / "clouds.yaml")}
    _run(
        [str(BIN / "stratus"), "db", "upgrade", "identity", "network", "--config", str(config)], env
    )
    _run([str(BIN / "stratus"), "bootstrap", "--config", str(config)], env)
    nodes: list[Node] = []
    try:
        for name, services in (("net-a", ["identity", "network"]), ("net-b", ["network"])):
            port = free_port()
            log = tmp_path / f"{name}.log"
            node_env = env | {"STRATUS_HOST": name, "STRATUS_NETWORK__PORT": str(port)}
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [str(BIN / "stratus"), "serve", *services, "--config", str(config)],
                    env=node_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            nodes.append(Node(name, proc, log, f"http://127.0.0.1:{port}"))
        for node in nodes:
            node.wait_ready()
        issued = _run(
            [str(BIN / "openstack"), "--os-cloud", "stratus-admin", "token", "issue", "-f", "json"],
            env,
        )
        yield Deployment(json.loads(issued)["id"], (nodes[0].url, nodes[1].url))
    finally:
        codes = {node.name: node.stop() for node in nodes}
        assert all(code == 0 for code in codes.values()), "\n".join(n.output() for n in nodes)


async def _create_ports(c: httpx.AsyncClient, dep: Deployment, net: str, n: int) -> list[Any]:
    async def one(i: int) -> httpx.Response:
        body = {"port": {"network_id": net, "project_id": PROJECTS[i % len(PROJECTS)]}}
        return await c.post(f"{dep.urls[i % 2]}/v2.0/ports", json=body)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def _outcome(responses: list[httpx.Response]) -> tuple[list[str], list[str]]:
    """(addresses of the created ports, error types of the refused creates)."""
    made, refused = [], []
    for r in responses:
        if r.status_code == 201:
            (fixed,) = r.json()["port"]["fixed_ips"]
            made.append(fixed["ip_address"])
        else:
            assert r.status_code == 409, r.text
            refused.append(r.json()["NeutronError"]["type"])
    return made, refused


async def test_concurrent_port_creates_never_share_an_address(deployment: Deployment) -> None:
    dep = deployment
    headers = {"X-Auth-Token": dep.token}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as c:
        r = await c.post(f"{dep.urls[0]}/v2.0/networks", json={"network": {"shared": True}})
        net = r.json()["network"]["id"]
        body = {"network_id": net, "ip_version": 4, "cidr": "10.50.0.0/28"}
        r = await c.post(f"{dep.urls[1]}/v2.0/subnets", json={"subnet": body})
        assert r.json()["subnet"]["allocation_pools"] == [
            {"start": "10.50.0.2", "end": "10.50.0.14"}
        ]
        pool = {str(ipaddress.ip_address("10.50.0.0") + i) for i in range(2, 15)}

        made, refused = _outcome(await _create_ports(c, dep, net, 40))
        assert sorted(made) == sorted(pool)  # all 13, each exactly once
        assert refused == ["IpAddressGenerationFailure"] * 27

        listed = (await c.get(f"{dep.urls[1]}/v2.0/ports", params={"network_id": net})).json()
        held = [ip["ip_address"] for p in listed["ports"] for ip in p["fixed_ips"]]
        assert sorted(held) == sorted(pool)

        # free five at once (on both nodes), then race twelve creates for them
        victims = listed["ports"][:5]
        freed = {p["fixed_ips"][0]["ip_address"] for p in victims}
        deletes = [
            c.delete(f"{dep.urls[i % 2]}/v2.0/ports/{p['id']}") for i, p in enumerate(victims)
        ]
        assert {r.status_code for r in await asyncio.gather(*deletes)} == {204}
        made, refused = _outcome(await _create_ports(c, dep, net, 12))
        assert sorted(made) == sorted(freed)
        assert refused == ["IpAddressGenerationFailure"] * 7

        # the subnet cannot go while ports hold addresses in it
        subnets = (await c.get(f"{dep.urls[0]}/v2.0/subnets", params={"network_id": net})).json()
        r = await c.delete(f"{dep.urls[0]}/v2.0/subnets/{subnets['subnets'][0]['id']}")
        assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "SubnetInUse"


async def test_bootstrap_public_network_and_one_auto_topology_under_races(
    deployment: Deployment,
) -> None:
    """``stratus bootstrap`` made the default external network; racing auto-allocations
    through both processes end with one topology (its key decides, the losers retry)."""
    dep = deployment
    headers = {"X-Auth-Token": dep.token}
    async with httpx.AsyncClient(headers=headers, timeout=120) as c:
        nets = (await c.get(f"{dep.urls[0]}/v2.0/networks", params={"name": "public"})).json()
        [public] = nets["networks"]
        assert public["router:external"] and public["shared"] and public["is_default"]
        project = public["project_id"]  # the admin project, the caller's
        path = f"/v2.0/auto-allocated-topology/{project}"
        answers = await asyncio.gather(*(c.get(f"{dep.urls[i % 2]}{path}") for i in range(8)))
        assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
        ids = {r.json()["auto_allocated_topology"]["id"] for r in answers}
        assert len(ids) == 1
        params = {"name": "auto_allocated_network"}
        made = (await c.get(f"{dep.urls[1]}/v2.0/networks", params=params)).json()["networks"]
        assert [n["id"] for n in made] == list(ids)
        routers = (await c.get(f"{dep.urls[0]}/v2.0/routers")).json()["routers"]
        assert [r["external_gateway_info"]["network_id"] for r in routers] == [public["id"]]
        assert (await c.delete(f"{dep.urls[1]}{path}")).status_code == 204

"""The object store spread over processes as an operator deploys it.

Rings built with ``stratus ring`` (four devices on two storage nodes, three replicas);
two storage nodes, each ``stratus serve object-server container-server account-server``
with its own devices; one identity node; one proxy node (``stratus serve proxy``); the
real ``swift`` CLI through v1 auth. Everything shares only what a real deployment
shares: the ring files, the SQL server (identity's) and RabbitMQ.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_multinode import Deployment, Node, ok, write_config

from cloudproc import BIN, clean_env, free_port
from stratus.objectstore.ring import load_ring

pytestmark = pytest.mark.integration

SERVERS = {"object": "object_port", "container": "container_port", "account": "account_port"}


class StorageNode(Node):
    """``stratus serve`` of the three storage servers on their own ports and devices."""

    def __init__(self, host: str, root: Path, ports: dict[str, int]) -> None:
        super().__init__(host, next(iter(ports.values())), root / f"{host}.log")
        self.devices = root / host / "devices"
        self.ports = ports

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthcheck"

    def start(self, dep: Deployment) -> None:
        env = dep.env() | {
            "STRATUS_HOST": self.host,
            "STRATUS_OBJECTSTORE__DEVICES_ROOT": str(self.devices),
            "STRATUS_OBJECTSTORE__RING_DIR": str(dep.root / "rings"),
        }
        for kind, field in SERVERS.items():
            env[f"STRATUS_OBJECTSTORE__{field.upper()}"] = str(self.ports[kind])
        argv = ["serve", "object-server", "container-server", "account-server"]
        self._spawn(dep, argv, env)

    def _spawn(self, dep: Deployment, argv: list[str], env: dict[str, str]) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "stratus"), *argv, "--config", str(dep.config)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _answers(self) -> bool:
        return all(_listening(p) for p in self.ports.values())


class ProxyNode(StorageNode):
    def __init__(self, root: Path, port: int) -> None:
        super().__init__("proxy-a", root, {"proxy": port})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/info"

    def start(self, dep: Deployment) -> None:
        env = dep.env() | {
            "STRATUS_HOST": self.host,
            "STRATUS_OBJECTSTORE__PROXY_PORT": str(self.port),
            "STRATUS_OBJECTSTORE__RING_DIR": str(dep.root / "rings"),
        }
        self._spawn(dep, ["serve", "proxy"], env)


def _listening(port: int) -> bool:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def build_rings(dep: Deployment, nodes: list[StorageNode]) -> None:
    """Four devices, two per node, each in its own zone; the same for all three rings."""
    ring_dir = dep.root / "rings"
    for kind in SERVERS:
        ok(_ring(ring_dir, "create", kind, "--part-power", "6", "--replicas", "3"))
        zone = 0
        for node in nodes:
            for dev in ("sda", "sdb"):
                (node.devices / dev).mkdir(parents=True, exist_ok=True)
                zone += 1
                ok(_ring(ring_dir, "add", kind, "--region", "1", "--zone", str(zone),
                         "--ip", "127.0.0.1", "--port", str(node.ports[kind]),
                         "--device", dev, "--weight", "100"))  # fmt: skip
        ok(_ring(ring_dir, "rebalance", kind))


def _ring(ring_dir: Path, command: str, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "stratus"), "ring", command, "--dir", str(ring_dir), name, *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_url: str, amqp_url: str, amqp_exchange: str
) -> Iterator[tuple[Deployment, ProxyNode, list[StorageNode]]]:
    dep = Deployment(tmp_path, amqp_url, amqp_exchange, free_port())
    write_config(dep, postgres_url)
    storage = [
        StorageNode(host, tmp_path, {kind: free_port() for kind in SERVERS})
        for host in ("store-a", "store-b")
    ]
    build_rings(dep, storage)
    proxy = ProxyNode(tmp_path, free_port())
    ok(dep.stratus("db", "upgrade"))
    ok(dep.stratus("bootstrap", "--public-url", f"object-store=http://127.0.0.1:{proxy.port}"))
    identity = Node("identity-a", dep.port, tmp_path / "identity-a.log")
    started: list[Node] = [identity, *storage, proxy]
    try:
        for node in started:
            node.start(dep)
        for node in started:
            node.wait_ready()
        yield dep, proxy, storage
    finally:
        for node in started:
            node.stop()


def swift(dep: Deployment, proxy: ProxyNode, *args: str, cwd: Path) -> str:
    secrets = json.loads((dep.state_dir / "secrets.json").read_text())
    env = clean_env() | {
        "ST_AUTH": f"http://127.0.0.1:{proxy.port}/auth/v1.0",
        "ST_USER": "admin:admin",
        "ST_KEY": secrets["admin_password"],
    }
    result = subprocess.run(
        [str(BIN / "swift"), *args], env=env, capture_output=True, text=True, timeout=120,
        check=False, cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, f"swift {args} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


def test_objects_are_spread_over_both_storage_nodes(
    cluster: tuple[Deployment, ProxyNode, list[StorageNode]], tmp_path: Path
) -> None:
    dep, proxy, storage = cluster
    work = tmp_path / "work"
    work.mkdir()
    names = [f"file-{i}" for i in range(12)]
    for name in names:
        (work / name).write_bytes(os.urandom(2048) + name.encode())
    swift(dep, proxy, "upload", "photos", *names, cwd=work)
    assert swift(dep, proxy, "list", "photos", cwd=work).split() == sorted(names)
    # the account's counts follow the container's a moment later (as in Swift)
    deadline = time.monotonic() + 30
    while "Objects: 12" not in (stat := swift(dep, proxy, "stat", cwd=work)):
        assert time.monotonic() < deadline, stat
        time.sleep(0.2)
    assert "Containers: 1" in stat

    ring = load_ring(dep.root / "rings" / "object.ring")
    assert ring.replicas == 3
    for node in storage:  # 3 replicas on 4 devices, 2 per node: every object on both
        data = list(node.devices.rglob("*.data"))
        assert len(data) >= len(names), f"{node.host} holds {len(data)} object files"

    out = tmp_path / "out"
    swift(dep, proxy, "download", "photos", "-D", str(out), cwd=work)
    for name in names:
        expect = hashlib.md5((work / name).read_bytes()).hexdigest()
        assert hashlib.md5((out / name).read_bytes()).hexdigest() == expect


def test_a_storage_node_down_costs_readers_nothing(
    cluster: tuple[Deployment, ProxyNode, list[StorageNode]], tmp_path: Path
) -> None:
    dep, proxy, storage = cluster
    work = tmp_path / "work"
    work.mkdir()
    (work / "doc").write_bytes(b"kept on three replicas")
    swift(dep, proxy, "upload", "docs", "doc", cwd=work)
    storage[1].stop()
    swift(dep, proxy, "download", "docs", "doc", "-o", str(tmp_path / "got"), cwd=work)
    assert (tmp_path / "got").read_bytes() == b"kept on three replicas"

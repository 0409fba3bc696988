"""Four storage nodes as real processes, for probe tests that kill them mid-operation.

Each node is ``stratus serve object-server container-server account-server`` with its own
config file, devices root (one device ``d<i>``) and ports; the rings (3 replicas over the
four devices) live in one shared directory, as copied ring files would on a real cluster.
Replication and audit passes run as real processes too (``stratus objectstore replicate
--once``), so what is tested is what an operator runs. The proxy runs in this process
(``NoAuth``, as in ``swiftcluster``) on a background loop, reading the ring files through
``RingLoader``, so a rebalance written to disk reaches it like it reaches a real proxy.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from swiftcluster import Served

from cloudproc import BIN, clean_env, free_port
from stratus.objectstore.proxy.app import create_proxy
from stratus.objectstore.proxy.auth import NoAuth
from stratus.objectstore.proxy.cluster import Cluster, ProxyConfig
from stratus.objectstore.proxy.placement import Rings
from stratus.objectstore.ring import Ring, RingBuilder, RingLoader, save_ring
from stratus.objectstore.storage.layout import PathHasher

NODES = 4
REPLICAS = 3
KINDS = ("object", "container", "account")
PREFIX, SUFFIX = "probe-pre", "probe-suf"
HASHER = PathHasher(PREFIX.encode(), SUFFIX.encode())
SERVERS = ("object-server", "container-server", "account-server")


@dataclass
class Node:
    index: int
    root: Path
    ports: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.root / "node.toml"

    @property
    def device(self) -> Path:
        return self.root / f"d{self.index}"

    @property
    def log(self) -> Path:
        return self.root / "node.log"


@dataclass
class StorageNodes:
    root: Path
    nodes: list[Node]
    builders: dict[str, RingBuilder]
    loop: asyncio.AbstractEventLoop
    proxy_port: int
    loaders: dict[str, RingLoader] = field(default_factory=dict)
    cluster: Cluster | None = None
    proxy: Served | None = None

    @property
    def ring_dir(self) -> Path:
        return self.root / "rings"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/v1/AUTH_test"

    @property
    def ring(self) -> Ring:
        return self.loaders["object"].ring

    # ---- processes --------------------------------------------------------------------

    def start(self, i: int) -> None:
        node = self.nodes[i]
        with node.log.open("ab") as out:
            node.proc = subprocess.Popen(
                [str(BIN / "stratus"), "serve", *SERVERS, "--config", str(node.config)],
                env=clean_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while not all(_listening(p) for p in node.ports.values()):
            if node.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node {i} did not start:\n{node.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def kill(self, i: int) -> None:
        """SIGKILL: no clean shutdown, as when a machine loses power."""
        proc = self.nodes[i].proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(15)
        self.nodes[i].proc = None

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for i, node in enumerate(self.nodes):
            if node.proc is not None:
                try:
                    node.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.kill(i)
            node.proc = None

    # ---- daemon passes ----------------------------------------------------------------

    def passes(self, command: str, nodes: tuple[int, ...] = ()) -> list[dict[str, int]]:
        """One ``stratus objectstore <command> --once`` per node, all at once; the
        figures each printed."""
        chosen = nodes or tuple(range(NODES))
        argv = [str(BIN / "stratus"), "objectstore", command, "--once", "--config"]
        procs = [
            subprocess.Popen(
                [*argv, str(self.nodes[i].config)],
                env=clean_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for i in chosen
        ]
        try:
            outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
        finally:
            for proc in procs:  # a pass that hung must not outlive the test
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        for proc, out in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, out
        return [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out)} for out in outputs]

    def settle(self, max_rounds: int = 5) -> int:
        """Replication rounds on every node until one moves nothing and nothing fails."""
        for round_ in range(1, max_rounds + 1):
            stats = self.passes("replicate")
            if not any(s["pushed"] or s["failed"] or s["reverted"] for s in stats):
                return round_
        raise AssertionError(f"replication still busy after {max_rounds} rounds: {stats}")

    # ---- the rings and the disks ------------------------------------------------------

    def write_ring(self, kind: str) -> None:
        save_ring(self.builders[kind].to_ring(), self.ring_dir / f"{kind}.ring")

    def wait_for_ring(self, version: int) -> None:
        deadline = time.monotonic() + 10
        while self.ring.version != version:
            assert time.monotonic() < deadline, "the proxy did not load the new ring"
            time.sleep(0.05)

    def holders(self, name: str) -> set[int]:
        """Nodes with a ``.data`` of ``/AUTH_test/c/<name>``."""
        return {i for i in range(NODES) if self.data_files(i, name)}

    def data_files(self, i: int, name: str) -> list[Path]:
        name_hash = HASHER.hash_name(f"/AUTH_test/c/{name}")
        objects = self.nodes[i].device / "objects"
        return sorted(objects.glob(f"*/{name_hash[-3:]}/{name_hash}/*.data"))

    def primaries(self, name: str) -> list[int]:
        ring = self.ring
        return [d.id for d in ring.primaries(ring.partition("AUTH_test", "c", name))]

    def handoffs(self, name: str) -> list[int]:
        ring = self.ring
        return [d.id for d in ring.handoffs(ring.partition("AUTH_test", "c", name))]

    def logs(self) -> str:
        return "\n".join(f"--- node {n.index}\n{n.log.read_text()[-2000:]}" for n in self.nodes)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _write_config(node: Node, ring_dir: Path) -> None:
    node.device.mkdir(parents=True)
    node.config.write_text(
        f'state_dir = "{node.root / "state"}"\n'
        "[objectstore]\n"
        f'devices_root = "{node.root}"\n'
        f'ring_dir = "{ring_dir}"\n'
        f"object_port = {node.ports['object']}\n"
        f"container_port = {node.ports['container']}\n"
        f"account_port = {node.ports['account']}\n"
        "fsync = false\n"
        "ring_check_interval = 0.2\n"
    )


def _builders(nodes: list[Node]) -> dict[str, RingBuilder]:
    builders = {}
    for kind in KINDS:
        builder = RingBuilder(6, REPLICAS, 0, hash_prefix=PREFIX, hash_suffix=SUFFIX)
        for node in nodes:
            builder.add_device(
                region=1,
                zone=node.index,
                ip="127.0.0.1",
                port=node.ports[kind],
                device=f"d{node.index}",
                weight=1,
            )
        builder.rebalance()
        builders[kind] = builder
    return builders


def _start_proxy(c: StorageNodes) -> None:
    c.loaders = {k: RingLoader(c.ring_dir / f"{k}.ring", check_interval=0.1) for k in KINDS}
    rings = Rings(
        lambda: c.loaders["object"].ring,
        lambda: c.loaders["container"].ring,
        lambda: c.loaders["account"].ring,
    )
    config = ProxyConfig(pending_device=c.root / "proxy", error_limit=1000)
    app, c.cluster = create_proxy(rings, NoAuth(), config)
    c.proxy = Served(app, c.proxy_port)
    asyncio.run_coroutine_threadsafe(c.proxy.start(), c.loop).result(30)


async def _stop_proxy(c: StorageNodes) -> None:
    if c.proxy is not None:
        await c.proxy.stop()
    if c.cluster is not None:
        await c.cluster.close()


@contextmanager
def storage_nodes(root: Path) -> Iterator[StorageNodes]:
    """Four node processes and a proxy; everything stopped and removed on the way out."""
    nodes = [Node(i, root / f"node{i}", {k: free_port() for k in KINDS}) for i in range(NODES)]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    c = StorageNodes(root, nodes, _builders(nodes), loop, free_port())
    try:
        c.ring_dir.mkdir(parents=True)
        for node in nodes:
            _write_config(node, c.ring_dir)
        for kind in KINDS:
            c.write_ring(kind)
        for i in range(NODES):
            c.start(i)
        _start_proxy(c)
        yield c
    finally:
        try:
            asyncio.run_coroutine_threadsafe(_stop_proxy(c), loop).result(30)
        finally:
            c.stop_all()
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            shutil.rmtree(root, ignore_errors=True)

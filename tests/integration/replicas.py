"""Object replicators and auditors for each node of a ``SwiftCluster``, run pass by pass.

Each node gets the daemons' cores exactly as ``stratus serve object-replicator`` builds
them (its devices root, its object server's port, the cluster's ring), running on the
cluster's event loop; tests call passes directly instead of waiting for intervals. The
helpers also look at and damage what is on disk, as a failing disk would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from swiftcluster import HASHER, NODES, SwiftCluster

from stratus.objectstore.daemons.local_devices import LocalNode
from stratus.objectstore.daemons.object_auditor import AuditStats, ObjectAuditor
from stratus.objectstore.daemons.object_replicator import ObjectReplicator, ReplicationStats
from stratus.objectstore.daemons.object_sync import ReplicaClient
from stratus.objectstore.storage.config import DiskConfig
from stratus.objectstore.storage.diskfile import DiskFileManager
from stratus.objectstore.storage.metadata import ObjectMetadata, read_metadata_at


@dataclass
class Replicas:
    swift: SwiftCluster
    replicators: list[ObjectReplicator] = field(default_factory=list)
    auditors: list[ObjectAuditor] = field(default_factory=list)

    def replicate(self, *nodes: int) -> list[ReplicationStats]:
        """One pass on each of ``nodes`` (default all), one after the other."""
        chosen = nodes or tuple(range(NODES))
        return [self.swift.run(self.replicators[i].run_once()) for i in chosen]

    def settle(self, max_rounds: int = 5) -> int:
        """Passes on every node until a round pushes nothing and nothing fails."""
        for round_ in range(1, max_rounds + 1):
            stats = self.replicate()
            if not any(s.pushed or s.failed or s.reverted for s in stats):
                return round_
        raise AssertionError(f"replication still busy after {max_rounds} rounds: {stats}")

    def audit(self, *nodes: int) -> list[AuditStats]:
        chosen = nodes or tuple(range(NODES))
        return [self.swift.run(self.auditors[i].run_once()) for i in chosen]

    def hash_dir(self, node: int, name: str) -> Path:
        """Where ``/a/c/o`` lives on ``node`` (whether or not it is there)."""
        ring = self.swift.rings["object"]
        account, container, obj = name[1:].split("/", 2)
        part = ring.partition(account, container, obj)
        name_hash = HASHER.hash_name(name)
        return self.swift.device(node) / "objects" / str(part) / name_hash[-3:] / name_hash

    def files(self, node: int, name: str) -> list[str]:
        """The version files of ``name`` on ``node`` (hidden sidecars left out)."""
        try:
            return sorted(n for n in os.listdir(self.hash_dir(node, name)) if not n.startswith("."))
        except FileNotFoundError:
            return []

    def metadata(self, node: int, name: str) -> dict[str, ObjectMetadata]:
        hash_dir = self.hash_dir(node, name)
        return {n: read_metadata_at(hash_dir / n) for n in self.files(node, name)}

    def data_file(self, node: int, name: str) -> Path:
        datas = [n for n in self.files(node, name) if n.endswith(".data")]
        assert len(datas) == 1, f"node {node} holds {self.files(node, name)}"
        return self.hash_dir(node, name) / datas[0]

    def quarantined(self, node: int) -> list[Path]:
        where = self.swift.device(node) / "quarantined" / "objects"
        return sorted(where.iterdir()) if where.is_dir() else []

    def all_copies(self, name: str) -> dict[int, list[str]]:
        """Node -> version files, for every node holding any version of ``name``."""
        return {i: f for i in range(NODES) if (f := self.files(i, name))}


def flip_byte(path: Path, offset: int = 0) -> None:
    """Bit rot: one byte changes on disk, size and metadata stay."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


@contextmanager
def replicas(swift: SwiftCluster, disk: DiskConfig | None = None) -> Iterator[Replicas]:
    """A replicator and an auditor per node; their HTTP clients closed on the way out."""
    disk = disk or DiskConfig(fsync=False)
    made = Replicas(swift)
    ring = lambda: swift.rings["object"]  # noqa: E731 - read at every pass (rebalances)
    try:
        for i in range(NODES):
            root = swift.device(i).parent
            node = LocalNode(root, frozenset({"127.0.0.1"}), swift.servers["object"][i].port)
            manager = DiskFileManager(root, hasher=HASHER, config=disk)
            made.replicators.append(ObjectReplicator(ring, node, manager, ReplicaClient()))
            made.auditors.append(ObjectAuditor(ring, node, manager, bytes_per_second=1e9))
        yield made
    finally:
        for replicator in made.replicators:
            swift.run(replicator.client.aclose())

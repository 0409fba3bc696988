"""The container and account replicators as daemons (``stratus serve container-replicator``).

Each runs ``DbReplication`` over this node's devices every ``replicator_interval``
seconds; the work itself, and why it converges, is in ``db_replication.py``.
"""

from __future__ import annotations

from typing import ClassVar

from stratus.common.service import Runtime
from stratus.objectstore.daemons.db_replication import DbReplication
from stratus.objectstore.daemons.periodic import PeriodicDaemon
from stratus.objectstore.dbs.dbfile import DbConfig, DbKind


class DbReplicator(PeriodicDaemon):
    kind: ClassVar[DbKind]
    ring_name: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.replication: DbReplication | None = None

    def interval(self, runtime: Runtime) -> float:
        return runtime.settings.objectstore.replicator_interval

    async def setup(self, runtime: Runtime) -> None:
        from stratus.objectstore.service import ring_loader  # noqa: PLC0415 - avoids a cycle

        loader = ring_loader(runtime, self.ring_name)
        devices_root, _ = runtime.settings.objectstore_dirs()
        config = DbConfig(fsync=runtime.settings.objectstore.fsync)
        self.replication = DbReplication(self.kind, devices_root, lambda: loader.ring, config)

    async def run_once(self) -> None:
        assert self.replication is not None, "setup() first"
        await self.replication.run_once()

    async def teardown(self) -> None:
        if self.replication is not None:
            await self.replication.close()
            self.replication = None


class ContainerReplicator(DbReplicator):
    name = "container-replicator"
    kind = DbKind.CONTAINER
    ring_name = "container"


class AccountReplicator(DbReplicator):
    name = "account-replicator"
    kind = DbKind.ACCOUNT
    ring_name = "account"

"""``stratus objectstore replicate|audit --once``: one pass of a daemon, then exit.

For operators (repair a node now, after replacing a disk) and for probe tests, which run
each pass as a real process. The same pass runs every interval under
``stratus serve object-replicator`` / ``object-auditor`` and ``stratus up``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from rich.console import Console

from stratus.common.errors import InvalidInput
from stratus.settings import Settings

DAEMON_OF = {"replicate": "object-replicator", "audit": "object-auditor"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("objectstore", help="object store maintenance passes")
    cmds = parser.add_subparsers(dest="objectstore_command", required=True)
    for name, text in (("replicate", "one replication pass"), ("audit", "one audit pass")):
        cmd = cmds.add_parser(name, help=f"{text} over this node's devices")
        cmd.add_argument("--once", action="store_true", help="run one pass and exit")
        cmd.add_argument("--config", type=Path, help="TOML settings file")


async def run(args: argparse.Namespace, settings: Settings, console: Console) -> None:
    # the daemons import the storage layer: load it only for these commands
    from stratus.objectstore.daemons import object_auditor, object_replicator  # noqa: PLC0415
    from stratus.objectstore.daemons.node_setup import local_storage  # noqa: PLC0415
    from stratus.objectstore.daemons.object_sync import ReplicaClient  # noqa: PLC0415

    if not args.once:
        daemon = DAEMON_OF[args.objectstore_command]
        raise InvalidInput("cli.once_required", f"use --once, or 'stratus serve {daemon}'")
    local = await local_storage(settings)
    if args.objectstore_command == "audit":
        rate = settings.objectstore.auditor_bytes_per_second
        auditor = object_auditor.ObjectAuditor(
            local.ring, local.node, local.disk, bytes_per_second=rate
        )
        console.print(f"audit: {figures(await auditor.run_once())}", soft_wrap=True)
        return
    client = ReplicaClient()
    try:
        replicator = object_replicator.ObjectReplicator(local.ring, local.node, local.disk, client)
        stats = await replicator.run_once()
        console.print(f"replication: {figures(stats)}", soft_wrap=True)
    finally:
        await client.aclose()


def figures(stats: Any) -> str:
    """``name=value ...`` of a pass's stats dataclass: one line, easy to grep or parse."""
    return " ".join(f"{k}={v}" for k, v in dataclasses.asdict(stats).items())

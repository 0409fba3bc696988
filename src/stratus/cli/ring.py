"""``stratus ring ...``: build the account, container and object rings.

Every command works on ``<dir>/<name>.builder``; ``rebalance`` also writes
``<dir>/<name>.ring``, the file every object-store process loads. Copy the ``.ring``
files to every node after a rebalance; keep the ``.builder`` files safe, as they hold
the history that lets the next rebalance move as little as possible.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from stratus.common.errors import Conflict
from stratus.objectstore.ring.builder import RingBuilder
from stratus.objectstore.ring.store import load_builder, load_ring, save_builder, save_ring

RING_NAMES = ("account", "container", "object")

Out = Callable[[str], None]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``stratus ring`` and its commands on the top-level parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", type=Path, default=Path("."), help="ring directory (default .)")
    common.add_argument("name", choices=RING_NAMES, help="which ring")
    ring = sub.add_parser("ring", help="build the object store's consistent-hashing rings")
    cmds = ring.add_subparsers(dest="ring_command", required=True)

    create = cmds.add_parser("create", parents=[common], help="start a new builder")
    create.add_argument("--part-power", type=int, required=True, help="2**N partitions")
    create.add_argument("--replicas", type=int, required=True, help="copies of each object")
    create.add_argument(
        "--min-part-hours", type=int, default=1, help="hours before a moved partition may move"
    )
    create.add_argument("--hash-prefix", default="", help="hash path prefix (default none)")
    create.add_argument("--hash-suffix", help="hash path secret (default: random)")

    add = cmds.add_parser("add", parents=[common], help="add a device")
    add.add_argument("--region", type=int, default=1)
    add.add_argument("--zone", type=int, required=True)
    add.add_argument("--ip", required=True)
    add.add_argument("--port", type=int, required=True)
    add.add_argument("--device", required=True, help="device directory name, e.g. sdb1")
    add.add_argument("--weight", type=float, required=True, help="relative capacity")
    add.add_argument("--meta", default="", help="free-text note")

    remove = cmds.add_parser("remove", parents=[common], help="remove a device")
    remove.add_argument("device", help="device id or ip:port/device")

    weight = cmds.add_parser("set-weight", parents=[common], help="change a device's weight")
    weight.add_argument("device", help="device id or ip:port/device")
    weight.add_argument("weight", type=float)

    cmds.add_parser("rebalance", parents=[common], help="reassign partitions, write the ring")
    cmds.add_parser("show", parents=[common], help="print the builder and its devices")
    cmds.add_parser("validate", parents=[common], help="check the builder and the ring file")


def run(args: argparse.Namespace, out: Out = print) -> None:
    """Run one ``stratus ring`` command; failures raise ``StratusError`` (one line)."""
    builder_path = args.dir / f"{args.name}.builder"
    if args.ring_command == "create":
        _create(args, builder_path, out)
        return
    builder = load_builder(builder_path)
    if args.ring_command == "show":
        _show(builder, out)
        return
    if args.ring_command == "validate":
        _validate(builder, args.dir / f"{args.name}.ring", out)
        return
    if args.ring_command == "add":
        dev = builder.add_device(
            region=args.region,
            zone=args.zone,
            ip=args.ip,
            port=args.port,
            device=args.device,
            weight=args.weight,
            meta=args.meta,
        )
        out(f"added {dev.describe()}")
    elif args.ring_command == "remove":
        dev = builder.remove_device(builder.find(args.device).id)
        out(f"removing {dev.describe()} at the next rebalance")
    elif args.ring_command == "set-weight":
        dev = builder.set_weight(builder.find(args.device).id, args.weight)
        out(f"set {dev.describe()}")
    elif args.ring_command == "rebalance":
        _rebalance(builder, args.dir / f"{args.name}.ring", out)
    save_builder(builder, builder_path)


def _create(args: argparse.Namespace, path: Path, out: Out) -> None:
    if path.exists():
        raise Conflict("ring.exists", f"{path} already exists")
    builder = RingBuilder(
        args.part_power,
        args.replicas,
        args.min_part_hours,
        hash_prefix=args.hash_prefix,
        hash_suffix=args.hash_suffix,
    )
    save_builder(builder, path)
    out(
        f"created {path}: {builder.parts} partitions, {builder.replicas} replicas, "
        f"min_part_hours {builder.min_part_hours}"
    )


def _rebalance(builder: RingBuilder, ring_path: Path, out: Out) -> None:
    result = builder.rebalance()
    save_ring(builder.to_ring(), ring_path)
    share = result.moved * 100.0 / builder.parts
    out(
        f"moved {result.moved} partitions ({share:.2f}%), balance {result.balance:.2f}%, "
        f"dispersion {builder.dispersion():.2f}%, wrote {ring_path} version {builder.version}"
    )


def _show(builder: RingBuilder, out: Out) -> None:
    out(
        f"version {builder.version}: {builder.parts} partitions, {builder.replicas} replicas, "
        f"min_part_hours {builder.min_part_hours}, balance {builder.balance():.2f}%, "
        f"dispersion {builder.dispersion():.2f}%"
        + (" (changes pending: rebalance)" if builder.dirty else "")
    )
    counts, targets = builder.parts_per_device(), builder.targets()
    out(
        f"{'id':>4} {'region':>6} {'zone':>4}  {'address':<32} "
        f"{'weight':>8} {'parts':>8} {'target':>10}"
    )
    removing = {d.id for d in builder.pending_removal}
    for dev in sorted([*builder.devices, *builder.pending_removal], key=lambda d: d.id):
        note = "  (removing)" if dev.id in removing else ""
        out(
            f"{dev.id:>4} {dev.region:>6} {dev.zone:>4}  {dev.address:<32} {dev.weight:>8g} "
            f"{counts.get(dev.id, 0):>8} {targets.get(dev.id, 0.0):>10.1f}{note}"
        )


def _validate(builder: RingBuilder, ring_path: Path, out: Out) -> None:
    warnings = builder.validate()
    ring = load_ring(ring_path)
    if ring.version != builder.version or list(ring.table()) != builder.table:
        raise Conflict(
            "ring.stale",
            f"{ring_path} (version {ring.version}) does not match the builder "
            f"(version {builder.version}): run rebalance",
        )
    for warning in warnings:
        out(f"warning: {warning}")
    out(f"ok: {ring_path} version {ring.version}")

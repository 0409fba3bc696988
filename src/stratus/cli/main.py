"""Entry point of the ``stratus`` command.

Every expected failure (busy port, unwritable state directory, corrupt config, unreachable
database) ends as one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console

from stratus import __version__, services
from stratus.cli import guest_image as guest_image_cli
from stratus.cli import objectstore as objectstore_cli
from stratus.cli import ring as ring_cli
from stratus.common import logging as stratus_logging
from stratus.common.errors import InvalidInput, StratusError
from stratus.compute.virt import registry
from stratus.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stratus", description="Stratus cloud platform")
    p.add_argument("--version", action="version", version=f"stratus {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole cloud on this machine, in the foreground")
    up.add_argument("--state-dir", type=Path, help="where data, keys and client files live")
    up.add_argument("--config", type=Path, help="optional TOML settings file")
    up.add_argument(
        "--compute-driver",
        dest="driver",
        metavar="DRIVER",
        help="hypervisor driver of the compute agent: 'qemu' (real VMs; the default when "
        "QEMU is installed and compute.driver is not set) or 'fake' (one simulated host, "
        "no real VMs)",
    )

    serve = sub.add_parser("serve", help="run chosen services against a SQL server and RabbitMQ")
    serve.add_argument(
        "services",
        nargs="+",
        metavar="SERVICE",
        help=", ".join([*services.FACTORIES, *services.ALIASES]),
    )
    serve.add_argument("--config", type=Path, required=True, help="TOML settings file")
    serve.add_argument(
        "--driver", metavar="DRIVER", help="compute-agent: hypervisor driver (compute.driver)"
    )
    serve.add_argument(
        "--fake-hosts",
        type=int,
        metavar="N",
        help="compute-agent with the fake driver: simulated hosts in this process, "
        "named <host>-fake-1..N (compute.fake_hosts)",
    )

    boot = sub.add_parser(
        "bootstrap", help="create the first keys, users, projects and endpoints of a cloud"
    )
    boot.add_argument("--config", type=Path, required=True, help="TOML settings file")
    boot.add_argument(
        "--public-url",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="base URL clients use for SERVICE (repeatable; "
        "default identity=http://<http.public_host>:<identity.port>)",
    )

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="run every service's migrations")
    upgrade.add_argument("services", nargs="*", metavar="SERVICE", help="default: all")
    upgrade.add_argument("--config", type=Path, help="TOML settings file")

    ring_cli.add_parser(sub)
    guest_image_cli.add_parser(sub)
    objectstore_cli.add_parser(sub)
    return p


def _settings(args: argparse.Namespace) -> Settings:
    init: dict[str, Any] = {}
    if getattr(args, "state_dir", None):
        init["state_dir"] = args.state_dir.expanduser().resolve()
    settings = load_settings(args.config, **init)
    compute: dict[str, Any] = {}
    if getattr(args, "driver", None):
        compute["driver"] = args.driver
    elif args.command == "up" and not settings.compute.driver:
        compute["driver"] = registry.default_for_up()
    if getattr(args, "fake_hosts", None) is not None:
        if args.fake_hosts < 1:
            raise InvalidInput("cli.invalid", "--fake-hosts must be at least 1")
        compute["fake_hosts"] = args.fake_hosts
    if compute:
        settings.compute = settings.compute.model_copy(update=compute)
    return settings


def _run(coro: Coroutine[Any, Any, object]) -> None:
    # asyncio.run() takes loop_factory only from Python 3.12; Runner has it from 3.11.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro)


def _dispatch(args: argparse.Namespace, console: Console) -> None:
    if args.command == "ring":  # offline operator tool: no settings, no logging set-up
        ring_cli.run(args)
        return
    if args.command == "guest-image":  # offline too: packages in, files out
        guest_image_cli.run(args, console.print)
        return
    settings = _settings(args)
    if args.command == "up":
        from stratus.cli import up  # noqa: PLC0415 - keep `stratus --help` fast

        up.prepare_state_dir(settings.state_dir)
        log_file = (settings.state_dir / "stratus.log").open("a", buffering=1)
        stratus_logging.setup(settings.log_level, json_lines=settings.log_json, stream=log_file)
        with up.exclusive(settings.state_dir):
            _run(up.run(settings, console))
    elif args.command == "serve":
        from stratus.cli import serve  # noqa: PLC0415

        stratus_logging.setup(settings.log_level, json_lines=settings.log_json)
        _run(serve.run(settings, tuple(services.canonical(n) for n in args.services)))
    elif args.command == "objectstore":
        stratus_logging.setup(settings.log_level, json_lines=settings.log_json)
        _run(objectstore_cli.run(args, settings, console))
    elif args.command == "bootstrap":
        from stratus.cli import bootstrap  # noqa: PLC0415

        stratus_logging.setup(settings.log_level, json_lines=settings.log_json)
        _run(bootstrap.run(settings, args.public_url, console))
    elif args.command == "db":
        from stratus.cli import runner  # noqa: PLC0415

        stratus_logging.setup(settings.log_level, json_lines=settings.log_json)
        names = tuple(args.services) or services.ALL_IN_ONE
        for name in names:
            services.create(name)
        if not settings.database.url:
            settings.state_dir.mkdir(parents=True, exist_ok=True)
        changed: list[str] = []

        async def go() -> None:
            changed.extend(await runner.migrate(settings, names))

        _run(go())
        console.print(f"migrated: {', '.join(changed) or 'nothing to do'}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=False, highlight=False)
    try:
        _dispatch(args, console)
    except StratusError as exc:
        print(f"stratus: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback for the log
        logging.getLogger(__name__).exception("unexpected failure")
        print(f"stratus: error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

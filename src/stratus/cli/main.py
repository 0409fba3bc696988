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
from stratus.cli import ring as ring_cli
from stratus.common import logging as stratus_logging
from stratus.common.errors import StratusError
from stratus.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stratus", description="Stratus cloud platform")
    p.add_argument("--version", action="version", version=f"stratus {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole cloud on this machine, in the foreground")
    up.add_argument("--state-dir", type=Path, help="where data, keys and client files live")
    up.add_argument("--config", type=Path, help="optional TOML settings file")

    serve = sub.add_parser("serve", help="run chosen services against a SQL server and RabbitMQ")
    serve.add_argument("services", nargs="+", metavar="SERVICE", help=", ".join(services.FACTORIES))
    serve.add_argument("--config", type=Path, required=True, help="TOML settings file")

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
    return p


def _settings(args: argparse.Namespace) -> Settings:
    init: dict[str, Any] = {}
    if getattr(args, "state_dir", None):
        init["state_dir"] = args.state_dir.expanduser().resolve()
    return load_settings(args.config, **init)


def _run(coro: Coroutine[Any, Any, object]) -> None:
    # asyncio.run() takes loop_factory only from Python 3.12; Runner has it from 3.11.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro)


def _dispatch(args: argparse.Namespace, console: Console) -> None:
    if args.command == "ring":  # offline operator tool: no settings, no logging set-up
        ring_cli.run(args)
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
        _run(serve.run(settings, tuple(args.services)))
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

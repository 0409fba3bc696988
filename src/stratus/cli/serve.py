"""``stratus serve SERVICE...``: chosen services against a SQL server and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from stratus import services
from stratus.cli import runner
from stratus.common.db import current_revision
from stratus.common.errors import InvalidInput
from stratus.settings import Settings

log = logging.getLogger(__name__)


async def check_migrated(settings: Settings, names: tuple[str, ...]) -> None:
    """Refuse to start on tables older than the code: ``stratus db upgrade`` first."""
    async with contextlib.aclosing(runner.service_databases(settings, names)) as dbs:
        async for name, mig, db in dbs:
            if await current_revision(db, mig) != mig.head():
                raise InvalidInput(
                    "db.not_migrated",
                    f"the {name} tables are not at the current version; "
                    "run 'stratus db upgrade' with the same config first",
                )


async def run(settings: Settings, names: tuple[str, ...]) -> None:
    for name in names:
        services.create(name)  # unknown names fail before anything starts
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in runner.STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    await check_migrated(settings, names)
    proc = runner.Process(settings, names)
    try:
        await runner.start(proc)
        runner.settle_heap()
        log.info("serving %s on %s", ", ".join(names), settings.host)
        await stopping.wait()
    finally:
        await runner.stop(proc)

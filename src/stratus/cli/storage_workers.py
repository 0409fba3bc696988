"""The object store's storage servers in worker processes under ``stratus up``.

One Python process cannot use more than about one core (the interpreter lock), and the
object, container and account servers do most of a small PUT's work (three replicas of
each write). ``stratus up`` therefore binds their ports itself, as before, and hands the
listening sockets to ``[objectstore] workers`` child processes, each serving all three
servers on them (the kernel spreads the connections over the processes accepting).
The servers keep nothing in memory another process needs: objects are files renamed into
place and databases are SQLite files locked by SQLite, exactly as when ``stratus serve``
runs them on several nodes.

A child gets the settings as one JSON line on its stdin and keeps that pipe open: when it
reads end-of-file (``stratus up`` stopped, or died without stopping it) it stops too. It
says ``ready`` on stdout once it serves. A child that dies while ``stratus up`` runs is
started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading

from stratus import services
from stratus.cli import runner
from stratus.common import rpc
from stratus.common.errors import Unavailable
from stratus.common.service import Runtime
from stratus.settings import Settings

log = logging.getLogger(__name__)

STORAGE_SERVERS = ("object-server", "container-server", "account-server")
READY = b"ready\n"
START_TIMEOUT = 60.0  # seconds for a child to import, open its rings and serve
STOP_TIMEOUT = 5.0  # seconds a child gets after SIGTERM before SIGKILL
RESTART_DELAY = 1.0


class StorageWorkers:
    """The children serving the storage servers' sockets, started and stopped together."""

    def __init__(self, settings: Settings, sockets: dict[str, socket.socket], count: int):
        self._settings_line = settings.model_dump_json().encode() + b"\n"
        self._sockets = sockets
        self._count = count
        self._children: list[asyncio.subprocess.Process | None] = [None] * count
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._sockets)

    async def start(self) -> None:
        """Start every child and return once all of them serve."""
        children = await asyncio.gather(
            *(self._spawn() for _ in range(self._count)), return_exceptions=True
        )
        for i, child in enumerate(children):
            if isinstance(child, asyncio.subprocess.Process):
                self._children[i] = child
        failed = [c for c in children if isinstance(c, BaseException)]
        if failed:
            await self.stop()
            raise failed[0]
        self._watchers = [asyncio.create_task(self._watch(i)) for i in range(self._count)]

    async def _spawn(self) -> asyncio.subprocess.Process:
        fds = {name: sock.fileno() for name, sock in self._sockets.items()}
        if min(fds.values()) < 0:
            raise Unavailable("objectstore.worker_failed", "the storage sockets are closed")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            *(f"{name}={fd}" for name, fd in fds.items()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            pass_fds=tuple(fds.values()),
            start_new_session=True,  # stopped by this process, not by the terminal's Ctrl-C
        )
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(self._settings_line)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                await child.stdin.drain()
                line = await child.stdout.readline()
        except (TimeoutError, ConnectionError):
            line = b""
        if line != READY:
            await _terminate(child)
            raise Unavailable(
                "objectstore.worker_failed",
                f"a storage server process did not start (exit {child.returncode}); "
                "see stratus.log",
            )
        return child

    async def _watch(self, i: int) -> None:
        """Start a child again when it dies while the cloud runs."""
        while not self._stopping:
            child = self._children[i]
            assert child is not None
            code = await child.wait()
            if self._stopping:
                return
            log.error("storage server process %s exited with %s; starting another", child.pid, code)
            await asyncio.sleep(RESTART_DELAY)
            try:
                self._children[i] = await self._spawn()
            except Unavailable:
                log.exception("restarting a storage server process failed")

    async def stop(self) -> None:
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        children = [c for c in self._children if c is not None]
        await asyncio.gather(*(_terminate(c) for c in children))


async def _terminate(child: asyncio.subprocess.Process) -> None:
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
    if child.stdin is not None:
        child.stdin.close()


async def _serve(settings: Settings, fds: dict[str, int]) -> None:
    """The child: serve the storage servers on the inherited sockets until told to stop."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in runner.STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    threading.Thread(target=_wait_for_eof, args=(loop, stopping), daemon=True).start()
    proc = runner.Process(settings, tuple(fds))
    for name, fd in fds.items():
        proc.sockets[name] = socket.socket(fileno=fd)
    bus = await rpc.connect_from_settings(settings.bus)
    proc.runtime = runtime = Runtime(settings=settings, bus=bus, host=settings.host)
    try:
        for name in proc.names:
            service = services.create(name)
            api = await service.start(runtime)
            proc.services.append(service)
            if api is not None:
                await runner.serve_http(proc, name, api)
        runner.settle_heap()
        os.write(sys.stdout.fileno(), READY)
        devnull = os.open(os.devnull, os.O_WRONLY)  # nobody reads the pipe any more
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        await stopping.wait()
    finally:
        await runner.stop(proc)


def _wait_for_eof(loop: asyncio.AbstractEventLoop, stopping: asyncio.Event) -> None:
    sys.stdin.buffer.read()  # returns at end-of-file: the parent closed the pipe or died
    loop.call_soon_threadsafe(stopping.set)


def main() -> None:
    import uvloop  # noqa: PLC0415 - only in the child

    from stratus.common import logging as stratus_logging  # noqa: PLC0415

    fds = {}
    for arg in sys.argv[1:]:
        name, _, fd = arg.partition("=")
        if name not in STORAGE_SERVERS:
            raise SystemExit(f"not a storage server: {name}")
        fds[name] = int(fd)
    settings = Settings.model_validate_json(sys.stdin.buffer.readline())
    log_file = (settings.state_dir / "stratus.log").open("a", buffering=1)
    stratus_logging.setup(settings.log_level, json_lines=settings.log_json, stream=log_file)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop_runner:
            loop_runner.run(_serve(settings, fds))
    except Exception:
        log.exception("storage server process failed")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

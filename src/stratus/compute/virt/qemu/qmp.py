"""A minimal asyncio QMP client: one command at a time over the instance's unix socket.

QMP speaks newline-separated JSON. After the greeting the client must send
``qmp_capabilities``; then each command gets exactly one ``return`` or ``error`` reply,
possibly preceded by asynchronous ``event`` messages, which this client skips (the
driver asks for state instead of following events, so an agent restart loses nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import TracebackType
from typing import Any, cast

from stratus.compute.virt.driver import DriverError

QmpValue = dict[str, Any]


class QmpError(DriverError):
    """QEMU refused a command, or its monitor is not reachable."""


class QmpClient:
    def __init__(self, path: str, *, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> QmpClient:
        await self.connect()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.path, limit=1 << 22), self.timeout
            )
            greeting = await self._read()
            if "QMP" not in greeting:
                raise QmpError(f"not a QMP monitor at {self.path}")
            await self.execute("qmp_capabilities")
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise QmpError(f"QEMU monitor {self.path} unreachable: {exc}") from None

    async def _read(self) -> QmpValue:
        assert self._reader is not None
        line = await asyncio.wait_for(self._reader.readline(), self.timeout)
        if not line:
            raise QmpError("QEMU closed its monitor")
        return cast(QmpValue, json.loads(line))

    async def execute(self, command: str, arguments: QmpValue | None = None) -> Any:
        """Run ``command`` and return its ``return`` value; an ``error`` raises."""
        if self._writer is None:
            raise QmpError("QMP client is not connected")
        message: QmpValue = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self._writer.write(json.dumps(message).encode() + b"\n")
        try:
            await self._writer.drain()
            while True:
                reply = await self._read()
                if "return" in reply:
                    return reply["return"]
                if "error" in reply:
                    err = reply["error"]
                    raise QmpError(f"QEMU refused {command}: {err.get('desc', err)}")
        except (OSError, TimeoutError) as exc:
            raise QmpError(f"QEMU monitor failed during {command}: {exc!r}") from None

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def command(path: str, name: str, arguments: QmpValue | None = None) -> Any:
    """One command on a fresh connection (QMP accepts several clients one at a time)."""
    async with QmpClient(path) as qmp:
        return await qmp.execute(name, arguments)

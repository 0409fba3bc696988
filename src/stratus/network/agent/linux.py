"""Runs ``ip``, ``bridge``, ``nft`` and ``dnsmasq`` as asyncio subprocesses, inside the
agent's namespace when it has one (``ip netns exec``), so nothing blocks the loop and
tests never touch the machine's own interfaces."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class CommandFailed(RuntimeError):
    def __init__(self, argv: list[str], code: int, stderr: str) -> None:
        super().__init__(f"{' '.join(argv)} exited {code}: {stderr.strip()}")
        self.stderr = stderr


@dataclass(frozen=True)
class Shell:
    namespace: str = ""  # empty: the agent's own namespace

    def argv(self, *args: str, namespace: str | None = None) -> list[str]:
        ns = self.namespace if namespace is None else namespace
        return ["ip", "netns", "exec", ns, *args] if ns else list(args)

    async def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        namespace: str | None = None,
    ) -> str:
        """Run a command; return its output. ``namespace`` overrides the shell's own."""
        argv = self.argv(*args, namespace=namespace)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        code = proc.returncode or 0
        if check and code != 0:
            raise CommandFailed(argv, code, err.decode(errors="replace"))
        return out.decode(errors="replace")

    async def link_events(self) -> AsyncIterator[str]:
        """A line per link change in the namespace (``ip -o monitor link``); the first
        is yielded at once, so that what changed before the watch started is looked at."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv("ip", "-o", "monitor", "link"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            yield "watching"
            assert proc.stdout is not None
            while line := await proc.stdout.readline():
                yield line.decode(errors="replace")
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def links(self) -> dict[str, dict[str, Any]]:
        """Every link in the namespace, by name (``ip -j link``)."""
        found: list[dict[str, Any]] = json.loads(await self.run("ip", "-j", "link", "show") or "[]")
        return {link["ifname"]: link for link in found}


async def ensure_namespace(name: str) -> None:
    """A named network namespace with its loopback up (no error if it exists)."""
    host = Shell()
    existing = await host.run("ip", "netns", "list")
    if not any(line.split(" ")[0] == name for line in existing.splitlines()):
        await host.run("ip", "netns", "add", name)
    await host.run("ip", "link", "set", "lo", "up", namespace=name)


async def delete_namespace(name: str) -> None:
    await Shell().run("ip", "netns", "delete", name, check=False)


async def namespaces(prefix: str) -> list[str]:
    out = await Shell().run("ip", "netns", "list")
    return [n for line in out.splitlines() if (n := line.split(" ")[0]).startswith(prefix)]

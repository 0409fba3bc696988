"""Identity benchmark: `stratus up` time to ready, token issues/s, token validations/s.

Runs a real `stratus up` in a temporary state directory and drives it over HTTP from this
process with a small keep-alive HTTP/1.1 client (uvloop), so the client costs little of
the machine's CPU. Prints its figures and the machine they were measured on.

    .venv/bin/python bench/identity.py [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cloudproc import Cloud, free_port


class Conn:
    """One keep-alive HTTP/1.1 connection; just enough protocol for this benchmark."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    def close(self) -> None:
        self.writer.close()


def http(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def password_auth(user: str, password: str, project: str) -> bytes:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    return http(
        "POST", "/v3/auth/tokens", {"Content-Type": "application/json"}, json.dumps(body).encode()
    )


async def load(port: int, raw: bytes, expect: int, seconds: float, concurrency: int) -> float:
    """Send ``raw`` over ``concurrency`` connections for ``seconds``; return requests/s."""
    deadline = time.monotonic() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        conn = await Conn.open(port)
        try:
            while time.monotonic() < deadline:
                status, _, body = await conn.request(raw)
                if status != expect:
                    raise RuntimeError(f"status {status}: {body[:200]!r}")
                done += 1
        finally:
            conn.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - started)


async def issue(port: int, user: str, password: str, project: str) -> str:
    conn = await Conn.open(port)
    try:
        status, headers, body = await conn.request(password_auth(user, password, project))
        if status != 201:
            raise RuntimeError(f"token issue failed: {status} {body[:200]!r}")
        return headers["x-subject-token"]
    finally:
        conn.close()


async def measure(cloud: Cloud, seconds: float, concurrency: int) -> dict[str, float]:
    port = cloud.identity_port
    admin = await issue(port, "admin", cloud.password("admin"), "admin")
    demo = await issue(port, "demo", cloud.password("demo"), "demo")
    validate = http("GET", "/v3/auth/tokens", {"X-Auth-Token": admin, "X-Subject-Token": demo})
    await load(port, validate, 200, 1.0, concurrency)  # warm-up
    return {
        "validations_per_s": await load(port, validate, 200, seconds, concurrency),
        "password_issues_per_s": await load(
            port, password_auth("demo", cloud.password("demo"), "demo"), 201, seconds, concurrency
        ),
    }


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as tmp:
        cloud = Cloud(state_dir=Path(tmp) / "state", identity_port=free_port())
        first = cloud.start()
        stop_started = time.monotonic()
        cloud.stop()
        stop_s = time.monotonic() - stop_started
        again = cloud.start()
        try:
            figures = uvloop.run(measure(cloud, args.seconds, args.concurrency))
        finally:
            cloud.stop()
    print(f"machine: {machine()}")
    print(f"stratus up to ready, new state dir:      {first:8.2f} s")
    print(f"stratus up to ready, existing state dir: {again:8.2f} s   (target < 5 s)")
    print(f"stop after SIGTERM:                      {stop_s:8.2f} s   (target < 5 s)")
    print(
        f"token validations/s (c={args.concurrency}):         "
        f"{figures['validations_per_s']:8.0f}     (target >= 2000)"
    )
    print(
        f"password-auth token issues/s (c={args.concurrency}):  "
        f"{figures['password_issues_per_s']:8.0f}"
    )


if __name__ == "__main__":
    main()

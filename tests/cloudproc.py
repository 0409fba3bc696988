"""Start and stop a real ``stratus up`` for tests and benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack_cli

BIN = Path(sys.executable).parent


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port below the kernel's ephemeral range.

    A port handed out for binding 0 comes from the range outgoing connections draw their
    source ports from, so a server started on it a moment later can find it taken by a
    client socket; ports below that range are never taken that way.
    """
    low, high = 20000, _ephemeral_low()
    for _ in range(200):
        port = random.randrange(low, high)
        if port in _HANDED_OUT:  # reserved by this process for a server not yet bound
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


# Every port this process handed out: a server stopped and started again by a probe test
# keeps its port, so none is ever given twice.
_HANDED_OUT: set[int] = set()


def clean_env() -> dict[str, str]:
    """The environment without any OS_* or AWS_* a developer may have exported."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "AWS_", "STRATUS_"))}


# The services besides identity and the settings naming their ports.
SERVICE_PORTS = {
    "image": "STRATUS_IMAGE__PORT",
    "compute-api": "STRATUS_COMPUTE__PORT",
    "network": "STRATUS_NETWORK__PORT",
    "object-store": "STRATUS_OBJECTSTORE__PROXY_PORT",
    "object-server": "STRATUS_OBJECTSTORE__OBJECT_PORT",
    "container-server": "STRATUS_OBJECTSTORE__CONTAINER_PORT",
    "account-server": "STRATUS_OBJECTSTORE__ACCOUNT_PORT",
    "metadata": "STRATUS_METADATA__PORT",
}


def free_service_ports() -> dict[str, int]:
    return {name: free_port() for name in SERVICE_PORTS}


@dataclass
class Cloud:
    state_dir: Path
    identity_port: int
    # free ports by default, so a test cloud never needs 8080, 9292 or 6200-6202
    ports: dict[str, int] = field(default_factory=free_service_ports)
    # settings of this cloud only (``STRATUS_*`` variables), e.g. small quotas
    extra_env: dict[str, str] = field(default_factory=dict)
    # the network agent's namespace: its bridges, DHCP namespaces and dnsmasq never touch
    # the machine's own interfaces, and are all removed at stop
    agent_namespace: str = field(default_factory=lambda: f"stt{random.getrandbits(32):08x}")
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}.out"

    @property
    def identity_url(self) -> str:
        return f"http://127.0.0.1:{self.identity_port}/v3"

    @property
    def object_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['object-store']}"

    @property
    def image_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['image']}"

    @property
    def compute_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['compute-api']}"

    @property
    def network_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['network']}"

    @property
    def clouds_yaml(self) -> Path:
        return self.state_dir / "clouds.yaml"

    def env(self) -> dict[str, str]:
        env = clean_env()
        env["STRATUS_IDENTITY__PORT"] = str(self.identity_port)
        for name, var in SERVICE_PORTS.items():
            env[var] = str(self.ports[name])
        env["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        # small image segments, so that tests of the object store backend cross them
        env["STRATUS_IMAGE__OBJECT_SEGMENT_BYTES"] = str(4 << 20)
        # simulated hosts unless a test asks for real VMs (stratus up's default with QEMU)
        env["STRATUS_COMPUTE__DRIVER"] = "fake"
        env["STRATUS_NETWORK_AGENT__NAMESPACE"] = self.agent_namespace
        env["STRATUS_NETWORK_AGENT__PURGE_ON_STOP"] = "true"
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> float:
        """Run ``stratus up``; return the seconds until ``ready`` appeared."""
        started = time.monotonic()
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "stratus"), "up", "--state-dir", str(self.state_dir)],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        ready = self.state_dir / "ready"
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"stratus up exited {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() - started > timeout:
                self.stop()
                raise RuntimeError(f"stratus up not ready in {timeout}s:\n{self.output()}")
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        self._remove_data_plane()
        return code

    def _remove_data_plane(self) -> None:
        """What a killed agent may have left: its dnsmasq processes and namespaces."""
        kill_dnsmasq_of(self.state_dir)
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                check=False).stdout  # fmt: skip
        for line in listed.splitlines():
            name = line.split(" ")[0]
            if name == self.agent_namespace or name.endswith(f"-{self.agent_namespace}"):
                subprocess.run(["ip", "netns", "delete", name], check=False)

    def output(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log_path.read_text(errors="replace")[-5000:]
        return ""

    def secrets(self) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.state_dir / "secrets.json").read_text())
        return data

    def password(self, user: str) -> str:
        return self.secrets()[f"{user}_password"]

    def cli(
        self, *args: str, cloud: str = "stratus-admin", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the real ``openstack`` CLI against this cloud."""
        result = openstack_cli.run(["--os-cloud", cloud, *args], self.env(), timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(
                f"openstack {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def swift_env(self) -> dict[str, str]:
        """``ST_AUTH``, ``ST_USER`` and ``ST_KEY`` as ``swift.env`` exports them."""
        values = {}
        for line in (self.state_dir / "swift.env").read_text().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0]
        return values

    def swift(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        check: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real ``swift`` CLI with the credentials of ``swift.env`` (or ``env``)."""
        result = subprocess.run(
            [str(BIN / "swift"), *args],
            env=clean_env() | (env if env is not None else self.swift_env()),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=cwd,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"swift {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def openstack(self, *args: str, cloud: str = "stratus-admin", check: bool = True) -> Any:
        """Run the CLI; parse JSON output when there is some (pass ``-f json`` yourself)."""
        out = self.cli(*args, cloud=cloud, check=check).stdout
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return out

    def sdk(self, cloud: str = "stratus-admin") -> Any:
        import openstack  # noqa: PLC0415 - heavy import, tests only

        config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)])
        region = config.get_one(cloud=cloud)
        return openstack.connection.Connection(config=region)


@contextlib.contextmanager
def running_cloud(state_dir: Path) -> Iterator[Cloud]:
    cloud = Cloud(state_dir=state_dir, identity_port=free_port())
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


def kill_dnsmasq_of(state_dir: Path) -> None:
    """Kill the dnsmasq processes whose files are under ``state_dir`` (a crashed or
    killed agent's: they outlive it by design)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"dnsmasq" in cmd and str(state_dir).encode() in cmd:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)

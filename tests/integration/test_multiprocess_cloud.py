"""A compute cloud with every service in its own process, on PostgreSQL and RabbitMQ, set
up as an operator would and driven by the real ``openstack`` CLI.

``stratus db upgrade`` and ``stratus bootstrap`` (with the image and compute endpoints),
then one ``stratus serve`` per role: identity + registry + image, ``compute-api``,
``conductor``, ``scheduler`` and two ``compute-agent --driver fake`` on different host
names. Nothing in this test speaks to the services but the CLI: two servers of an
anti-affinity group must land on the two agents, then go through the usual life.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import openstack_cli
from cloudproc import BIN, clean_env, free_port

pytestmark = pytest.mark.integration

START_TIMEOUT = 60.0  # bound on a process answering, never an expectation of speed
STOP_TIMEOUT = 15.0  # seconds a process may take to exit after SIGTERM
WAIT = 60.0  # bound on a server reaching a status
COMMAND_TIMEOUT = 120.0
AGENTS = ("cmp-a", "cmp-b")  # STRATUS_HOST of the two agent processes
HOSTS = {f"{a}-fake-1" for a in AGENTS}  # the fake driver names its host <node>-fake-1


@dataclass
class Serve:
    """One ``stratus serve`` process with its own host name and log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited {self.proc.returncode}:\n{self.output()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@dataclass
class Deployment:
    """The shared config file and state directory, and every process started on them."""

    root: Path
    ports: dict[str, int]  # identity, image, compute-api
    procs: list[Serve] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.root / "stratus.toml"

    def env(self) -> dict[str, str]:
        return clean_env() | {"OS_CLIENT_CONFIG_FILE": str(self.root / "state" / "clouds.yaml")}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def stratus(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "stratus"), *args, "--config", str(self.config)],
            env=self.env(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"stratus {' '.join(args)}:\n{result.stderr}"
        return result.stdout

    def serve(self, host: str, *args: str) -> Serve:
        log = self.root / f"{host}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [str(BIN / "stratus"), "serve", *args, "--config", str(self.config)],
                env=self.env() | {"STRATUS_HOST": host},
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        served = Serve(host, proc, log)
        self.procs.append(served)
        return served

    def wait_answering(self, service: str, path: str = "/") -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.url(service) + path):
            for p in self.procs:
                p.check_alive()
            assert time.monotonic() < deadline, f"{service} not answering:\n{self.logs()}"
            time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()}" for p in self.procs)

    def cli(self, *args: str, cloud: str = "stratus-demo") -> subprocess.CompletedProcess[str]:
        return openstack_cli.run(["--os-cloud", cloud, *args], self.env(), COMMAND_TIMEOUT)

    def ok(self, *args: str, cloud: str = "stratus-demo") -> Any:
        """The command's output, parsed when it is JSON (pass ``-f json``)."""
        result = self.cli(*args, cloud=cloud)
        if result.returncode != 0:
            for p in self.procs:
                p.check_alive()
            pytest.fail(f"openstack {' '.join(args)}:\n{result.stderr}\n{self.logs()}")
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError:
            return result.stdout

    def show(self, server: str) -> dict[str, Any]:
        """The admin's view, which includes the host."""
        shown: dict[str, Any] = self.ok("server", "show", server, "-f", "json",
                                        cloud="stratus-admin")  # fmt: skip
        return shown

    def wait_status(self, server: str, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while (shown := self.show(server))["status"] != status:
            assert shown["status"] != "ERROR", shown
            assert time.monotonic() < deadline, f"{server} never {status}: {shown}"
            time.sleep(0.2)
        return shown


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False


def write_config(dep: Deployment, db_url: str, amqp_url: str, exchange: str) -> None:
    q = json.dumps  # a JSON string is a valid TOML basic string
    dep.config.write_text(
        f"state_dir = {q(str(dep.root / 'state'))}\n"
        f"[database]\nurl = {q(db_url)}\n"
        f"[bus]\nurl = {q(amqp_url)}\nexchange = {q(exchange)}\ncall_timeout = 10.0\n"
        f"[identity]\nport = {dep.ports['identity']}\n"
        "password_hash_memory_kib = 8192\npassword_hash_iterations = 1\n"
        f"[image]\nport = {dep.ports['image']}\n"
        f"[compute]\nport = {dep.ports['compute-api']}\n"
    )


@pytest.fixture
def deployment(
    tmp_path: Path, postgres_url: str, amqp_url: str, amqp_exchange: str
) -> Iterator[Deployment]:
    dep = Deployment(tmp_path, {s: free_port() for s in ("identity", "image", "compute-api")})
    write_config(dep, postgres_url, amqp_url, amqp_exchange)
    dep.stratus("db", "upgrade")
    dep.stratus("bootstrap", "--public-url", f"image={dep.url('image')}",
                "--public-url", f"compute-api={dep.url('compute-api')}")  # fmt: skip
    try:
        dep.serve("ctl", "identity", "registry", "image")
        dep.wait_answering("identity", "/v3")  # a bad config fails here, before the others
        dep.serve("api", "compute-api")
        dep.serve("cond", "conductor")
        dep.serve("sched", "scheduler")
        for agent in AGENTS:
            dep.serve(agent, "compute-agent", "--driver", "fake")
        dep.wait_answering("image", "/versions")
        dep.wait_answering("compute-api")
        yield dep
    finally:
        codes = {p.name: p.stop() for p in reversed(dep.procs)}
    assert set(codes.values()) == {0}, f"exit codes {codes}\n{dep.logs()}"


def wait_agents_up(dep: Deployment) -> list[dict[str, Any]]:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        listed = dep.ok("compute", "service", "list", "-f", "json", cloud="stratus-admin")
        agents = [s for s in listed if s["Binary"] == "nova-compute" and s["State"] == "up"]
        if {s["Host"] for s in agents} == HOSTS:
            return listed  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"agents up: {agents}\n{dep.logs()}"
        time.sleep(0.2)


def test_lifecycle_with_every_service_in_its_own_process(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    services = wait_agents_up(dep)
    assert {(s["Binary"], s["Host"]) for s in services} >= {
        ("nova-conductor", "cond"), ("nova-scheduler", "sched"),
        *(("nova-compute", h) for h in HOSTS),
    }  # fmt: skip

    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 65536)
    image = dep.ok("image", "create", "--file", str(disk), "--disk-format", "raw",
                   "--container-format", "bare", "--public", "tiny", "-f", "json",
                   cloud="stratus-admin")  # fmt: skip
    assert image["status"] == "active"
    group = dep.ok("server", "group", "create", "--policy", "anti-affinity", "apart",
                   "-f", "json")  # fmt: skip

    def create(name: str) -> dict[str, Any]:
        made: dict[str, Any] = dep.ok(
            "server", "create", "--image", image["id"], "--flavor", "m1.tiny", "--nic", "none",
            "--hint", f"group={group['id']}", "--wait", name, "-f", "json",
        )  # fmt: skip
        return made

    with ThreadPoolExecutor(2) as pool:  # two requests at once: the scheduler keeps them apart
        made = list(pool.map(create, ["web-1", "web-2"]))
    assert [m["status"] for m in made] == ["ACTIVE", "ACTIVE"]
    first, second = (dep.show(m["id"]) for m in made)
    assert {first["OS-EXT-SRV-ATTR:host"], second["OS-EXT-SRV-ATTR:host"]} == HOSTS
    members = dep.ok("server", "group", "show", group["id"], "-f", "json")["members"]
    assert sorted(members.split(", ") if isinstance(members, str) else members) == sorted(
        m["id"] for m in made
    )

    listed = dep.ok("server", "list", "-f", "json")
    assert sorted((s["Name"], s["Status"]) for s in listed) == [
        ("web-1", "ACTIVE"), ("web-2", "ACTIVE")]  # fmt: skip
    server = first["id"]
    assert dep.ok("server", "show", server, "-f", "json")["name"] == "web-1"

    dep.ok("server", "stop", server)
    assert dep.wait_status(server, "SHUTOFF")["OS-EXT-STS:power_state"] in (4, "Shutdown")
    dep.ok("server", "start", server)
    dep.wait_status(server, "ACTIVE")
    dep.ok("server", "reboot", "--hard", server)
    dep.wait_status(server, "ACTIVE")
    console = dep.ok("console", "log", "show", server)
    assert "web-1 login:" in console  # the boot, then the stop and the hard reboot
    assert console.index("reboot: Power down") < console.index("reboot: hard reset")

    # The group keeps the other host busy: free it, so the resize has somewhere to go.
    dep.ok("server", "delete", "--wait", second["id"])
    source = first["OS-EXT-SRV-ATTR:host"]
    dep.ok("server", "resize", "--flavor", "m1.small", server)
    resized = dep.wait_status(server, "VERIFY_RESIZE")
    assert resized["OS-EXT-SRV-ATTR:host"] == second["OS-EXT-SRV-ATTR:host"] != source
    assert resized["flavor"]["name"] == "m1.small"
    dep.ok("server", "resize", "confirm", server)
    confirmed = dep.wait_status(server, "ACTIVE")
    assert confirmed["OS-EXT-SRV-ATTR:host"] == resized["OS-EXT-SRV-ATTR:host"]
    assert confirmed["flavor"]["name"] == "m1.small"

    events = dep.ok("server", "event", "list", "--long", server, "-f", "json")
    assert sorted(e["Action"] for e in events) == sorted(
        ["create", "stop", "start", "reboot", "resize", "confirmResize"])  # fmt: skip
    assert [e["Message"] for e in events] == [None] * len(events)  # no step failed
    dep.ok("server", "delete", "--wait", server)
    assert dep.ok("server", "list", "-f", "json") == []
    gone = dep.cli("server", "show", server)
    assert gone.returncode != 0 and "No Server found" in gone.stderr

"""Two identity nodes on one SQL server and RabbitMQ, as an operator would run them.

Everything goes through real processes: ``stratus db upgrade``, ``stratus bootstrap``, two
``stratus serve identity registry`` (each its own host name and port, sharing the database
and the key directories), and the real ``openstack`` CLI with the written clouds.yaml.
Every test runs on PostgreSQL and on MariaDB, each with its own AMQP exchange.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

import openstack_cli
from cloudproc import BIN, clean_env, free_port
from stratus.common import rpc
from stratus.registry.rpc import TOPIC, ListServices

pytestmark = pytest.mark.integration

START_TIMEOUT = 60.0  # seconds for a node to answer HTTP
STOP_TIMEOUT = 15.0  # seconds for a node to exit after SIGTERM
PROPAGATION_TIMEOUT = 15.0  # bound on polls for what the bus spreads (revocations, heartbeats)
COMMAND_TIMEOUT = 120.0
HOSTS = ("node-a", "node-b")
BINARIES = {"stratus-identity", "stratus-registry"}


@dataclass
class Deployment:
    """One cloud's config file and what its nodes share: database, bus, keys, state dir."""

    root: Path
    amqp_url: str
    exchange: str
    port: int  # identity port in the config file, used by node A and the default catalog

    @property
    def config(self) -> Path:
        return self.root / "stratus.toml"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def env(self) -> dict[str, str]:
        env = clean_env()
        env["OS_CLIENT_CONFIG_FILE"] = str(self.state_dir / "clouds.yaml")
        return env

    def stratus(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(BIN / "stratus"), *args, "--config", str(self.config)], self.env())

    def openstack(self, *args: str) -> subprocess.CompletedProcess[str]:
        return openstack_cli.run(list(args), self.env(), COMMAND_TIMEOUT)


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


def write_config(dep: Deployment, db_url: str) -> None:
    """A multi-node config; cheap password hashing keeps the test quick."""
    q = json.dumps  # a JSON string is a valid TOML basic string
    keys = dep.root / "shared-keys"
    dep.config.write_text(
        f"state_dir = {q(str(dep.state_dir))}\n"
        f"[database]\nurl = {q(db_url)}\n"
        f"[bus]\nurl = {q(dep.amqp_url)}\nexchange = {q(dep.exchange)}\ncall_timeout = 10.0\n"
        f"[identity]\nport = {dep.port}\n"
        f"key_repository = {q(str(keys / 'token'))}\n"
        f"credential_key_repository = {q(str(keys / 'credential'))}\n"
        "password_hash_memory_kib = 8192\npassword_hash_iterations = 1\n"
    )


@dataclass
class Node:
    """One ``stratus serve identity registry`` process."""

    host: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def start(self, dep: Deployment) -> None:
        env = dep.env() | {"STRATUS_HOST": self.host, "STRATUS_IDENTITY__PORT": str(self.port)}
        argv = ["serve", "identity", "registry", "--config", str(dep.config)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "stratus"), *argv],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"{self.host} exited {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{self.host} not answering after {START_TIMEOUT}s:\n{self.output()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it lingers; the exit code (``None`` if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""


@pytest.fixture(params=["postgres", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def deployment(tmp_path: Path, db_url: str, amqp_url: str, amqp_exchange: str) -> Deployment:
    """A config on a fresh, empty database and a fresh exchange (both removed by conftest)."""
    dep = Deployment(tmp_path, amqp_url, amqp_exchange, free_port())
    write_config(dep, db_url)
    return dep


@pytest.fixture
def bootstrapped(deployment: Deployment) -> Deployment:
    ok(deployment.stratus("db", "upgrade"))
    ok(deployment.stratus("bootstrap"))
    return deployment


@pytest.fixture
def nodes(bootstrapped: Deployment, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    """Node A on the config's identity port, node B on another; both stopped at the end."""
    ports = (bootstrapped.port, free_port())
    started = [Node(h, p, tmp_path / f"{h}.log") for h, p in zip(HOSTS, ports, strict=True)]
    try:
        for node in started:
            node.start(bootstrapped)
        for node in started:
            node.wait_ready()
        yield started[0], started[1]
    finally:
        for node in started:
            node.stop()


def issue_token(dep: Deployment, node: Node) -> str:
    out = ok(dep.openstack("--os-cloud", "stratus-admin", "--os-auth-url", node.url,
                           "token", "issue", "-f", "json"))  # fmt: skip
    token: str = json.loads(out)["id"]
    return token


def validate(node: Node, token: str) -> httpx.Response:
    """``GET /v3/auth/tokens`` on ``node``, the token authenticating and checking itself."""
    headers = {"X-Auth-Token": token, "X-Subject-Token": token}
    return httpx.get(f"{node.url}/auth/tokens", headers=headers, timeout=10)


def reauthenticate(dep: Deployment, node: Node, token: str) -> subprocess.CompletedProcess[str]:
    """The CLI trading ``token`` for a new one on ``node`` (keystoneauth's token plugin)."""
    return dep.openstack(
        "--os-auth-type", "token", "--os-token", token, "--os-auth-url", node.url,
        "--os-project-name", "admin", "--os-project-domain-name", "Default",
        "token", "issue", "-f", "json",
    )  # fmt: skip


def test_serve_refuses_tables_that_are_not_migrated(deployment: Deployment) -> None:
    result = _run(
        [str(BIN / "stratus"), "serve", "identity", "registry", "--config", str(deployment.config)],
        deployment.env(),
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stratus: error: ")
    assert "stratus db upgrade" in lines[0]


def test_a_token_from_one_node_works_on_the_other_until_revoked(
    bootstrapped: Deployment, nodes: tuple[Node, Node]
) -> None:
    a, b = nodes
    token = issue_token(bootstrapped, a)

    checked = validate(b, token)
    assert checked.status_code == 200, checked.text
    assert checked.headers["X-Subject-Token"] == token
    assert checked.json()["token"]["user"]["name"] == "admin"
    ok(reauthenticate(bootstrapped, b, token))

    ok(bootstrapped.openstack("--os-cloud", "stratus-admin", "--os-auth-url", a.url,
                              "token", "revoke", token))  # fmt: skip
    deadline = time.monotonic() + PROPAGATION_TIMEOUT
    while (status := validate(b, token).status_code) == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == 401
    refused = reauthenticate(bootstrapped, b, token)
    assert refused.returncode != 0
    assert "(HTTP 401)" in refused.stderr, refused.stderr


async def test_both_nodes_report_to_the_registry(
    bootstrapped: Deployment, nodes: tuple[Node, Node]
) -> None:
    expected = {(host, binary) for host in HOSTS for binary in BINARIES}
    up: set[tuple[str, str]] = set()
    bus = await rpc.connect(bootstrapped.amqp_url, exchange=bootstrapped.exchange, call_timeout=10)
    async with bus:
        try:
            async with asyncio.timeout(PROPAGATION_TIMEOUT):
                while not expected <= up:
                    listing = await bus.call(TOPIC, ListServices())
                    up = {(s.host, s.binary) for s in listing.services if s.up}
                    await asyncio.sleep(0.1)
        except TimeoutError:
            pytest.fail(f"registry lists {sorted(up)} as up, expected {sorted(expected)}")


def test_bootstrap_again_changes_only_the_urls_given(
    bootstrapped: Deployment, nodes: tuple[Node, Node]
) -> None:
    _, b = nodes
    secrets = (bootstrapped.state_dir / "secrets.json").read_text()
    bad = bootstrapped.stratus("bootstrap", "--public-url", "identity=ftp://nowhere")
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr

    base = b.url.removesuffix("/v3")
    ok(bootstrapped.stratus("bootstrap", "--public-url", f"identity={base}"))

    assert (bootstrapped.state_dir / "secrets.json").read_text() == secrets
    clouds = yaml.safe_load((bootstrapped.state_dir / "clouds.yaml").read_text())
    assert clouds["clouds"]["stratus-admin"]["auth"]["auth_url"] == b.url
    for name in ("secrets.json", "clouds.yaml", "aws.env", "swift.env"):
        assert (bootstrapped.state_dir / name).stat().st_mode & 0o777 == 0o600
    admin = ("--os-cloud", "stratus-admin")
    endpoints = json.loads(ok(bootstrapped.openstack(*admin, "endpoint", "list", "-f", "json")))
    assert sorted(e["Interface"] for e in endpoints) == ["admin", "internal", "public"]
    assert {e["URL"] for e in endpoints} == {b.url}
    users = json.loads(ok(bootstrapped.openstack(*admin, "user", "list", "-f", "json")))
    assert sorted(u["Name"] for u in users) == ["admin", "demo", "service"]


def test_sigterm_stops_each_node_with_exit_code_0(
    bootstrapped: Deployment, nodes: tuple[Node, Node]
) -> None:
    for node in nodes:
        issue_token(bootstrapped, node)  # some traffic first, so stopping has work to do
    for node in nodes:
        assert node.stop() == 0, node.output()

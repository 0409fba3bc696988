"""OpenStack Swift from PyPI as an all-in-one on loopback: the object-store baseline.

Swift goes into its own virtualenv (``bench/.venv-swift``, not committed), created on first
use; pyeclib needs liberasurecode (Debian: ``apt-get install liberasurecode-dev``) and the
tempauth tokens live in memcached (``apt-get install memcached``), as in Swift's own
all-in-one. Everything else is generated at run time in a temporary directory:
``swift.conf`` (hash secrets, one storage policy), the three rings built with
``swift-ring-builder`` (part power, replicas and devices as given: one zone per device),
and the proxy (tempauth user ``test:tester``), account, container and object server
configs on free loopback ports with ``mount_check = false``. Request logging is off on
every server, as it is in Stratus. ``start(workers)`` may be called again after
``stop()`` with another worker count over the same data.

The consistency daemons run beside the servers, as in Swift's own all-in-one and as
``stratus up`` runs Stratus' (``DAEMONS``): object replicator (``sync_method = ssync``,
so no rsync daemon is needed), auditor, updater and expirer, container replicator and
updater, account replicator, each with Swift's default intervals. A container or
account replicator falls back to rsync only for a database a peer lacks entirely, which
the benchmark never causes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-swift"
SERVERS = ("account", "container", "object")
# daemon -> (the server config holding its section, the module whose main() runs it)
DAEMONS = {
    "object-replicator": ("object", "swift.obj.replicator"),
    "object-auditor": ("object", "swift.obj.auditor"),
    "object-updater": ("object", "swift.obj.updater"),
    "object-expirer": ("object", "swift.obj.expirer"),
    "container-replicator": ("container", "swift.container.replicator"),
    "container-updater": ("container", "swift.container.updater"),
    "account-replicator": ("account", "swift.account.replicator"),
}
# Swift's daemons read /etc/swift/swift.conf whatever their config's swift_dir says (its
# servers honour swift_dir); this points them at ours without touching /etc.
DAEMON_MAIN = (
    "import runpy, sys\nfrom swift.common.utils import set_swift_dir\n"
    "set_swift_dir(sys.argv.pop(1))\nrunpy.run_module(sys.argv.pop(1), run_name='__main__')\n"
)
USER, KEY = "test:tester", "testing"

sys.path.insert(0, str(BENCH.parent / "tests"))
from cloudproc import free_port  # noqa: E402


def ensure_venv(venv: Path = VENV) -> Path:
    """The virtualenv holding Swift, created (pip install swift) when missing."""
    if not (venv / "bin" / "swift-proxy-server").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "swift"], check=True)
    return venv


def version(venv: Path = VENV) -> str:
    ensure_venv(venv)  # the report's machine line asks before any Swift run made it
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import swift; print(swift.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@dataclass(frozen=True, slots=True)
class Target:
    """A backend server and the device and partition a name lives on there."""

    host: str
    port: int
    device: str
    partition: int


@dataclass
class SwiftAllInOne:
    root: Path
    venv: Path = VENV
    part_power: int = 8
    replicas: int = 3
    devices: int = 4
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def conf_dir(self) -> Path:
        return self.root / "etc"

    @property
    def devices_root(self) -> Path:
        return self.root / "devices"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    def __enter__(self) -> SwiftAllInOne:
        self.build()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def build(self) -> None:
        """Devices, swift.conf and the three rings; the servers' configs come with start."""
        self.conf_dir.mkdir(parents=True)
        (self.root / "logs").mkdir()
        for i in range(self.devices):
            (self.devices_root / f"d{i}").mkdir(parents=True)
        self.ports = {name: free_port() for name in ("proxy", "memcached", *SERVERS)}
        (self.conf_dir / "swift.conf").write_text(
            "[swift-hash]\n"
            f"swift_hash_path_prefix = {secrets.token_hex(8)}\n"
            f"swift_hash_path_suffix = {secrets.token_hex(8)}\n\n"
            "[storage-policy:0]\nname = gold\ndefault = yes\n"
        )
        for kind in SERVERS:
            self._ring(kind)

    def _ring(self, kind: str) -> None:
        builder = str(self.conf_dir / f"{kind}.builder")
        tool = str(self.venv / "bin" / "swift-ring-builder")
        subprocess.run(
            [tool, builder, "create", str(self.part_power), str(self.replicas), "1"],
            check=True,
            capture_output=True,
        )
        for i in range(self.devices):
            device = f"r1z{i}-127.0.0.1:{self.ports[kind]}/d{i}"
            subprocess.run([tool, builder, "add", device, "1"], check=True, capture_output=True)
        done = subprocess.run(
            [tool, builder, "rebalance"], capture_output=True, text=True, check=False
        )
        if done.returncode not in (0, 1):  # 1: a warning, e.g. about balance
            raise RuntimeError(f"swift-ring-builder rebalance failed: {done.stdout}")

    def _configs(self, workers: str) -> None:
        common = (
            "[DEFAULT]\nbind_ip = 127.0.0.1\n"
            f"workers = {workers}\nswift_dir = {self.conf_dir}\n"
            f"user = {_user()}\nlog_level = WARNING\n"
        )
        internal_client = self.conf_dir / "internal-client.conf"
        sections = {
            "object-replicator": "sync_method = ssync\n",
            "object-expirer": f"internal_client_conf_path = {internal_client}\n",
        }
        for kind in SERVERS:
            daemons = "".join(
                f"\n[{daemon}]\n{sections.get(daemon, '')}"
                for daemon, (server, _) in DAEMONS.items()
                if server == kind
            )
            (self.conf_dir / f"{kind}-server.conf").write_text(
                f"{common}bind_port = {self.ports[kind]}\n"
                f"devices = {self.devices_root}\nmount_check = false\n\n"
                f"[pipeline:main]\npipeline = {kind}-server\n\n"
                f"[app:{kind}-server]\nuse = egg:swift#{kind}\nlog_requests = false\n"
                f"{daemons}"
            )
        memcache = f"memcache_servers = 127.0.0.1:{self.ports['memcached']}\n"
        internal_client.write_text(
            f"[DEFAULT]\nswift_dir = {self.conf_dir}\nlog_level = WARNING\n\n"
            "[pipeline:main]\npipeline = catch_errors cache proxy-server\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
            "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
            f"[filter:cache]\nuse = egg:swift#memcache\n{memcache}"
        )
        (self.conf_dir / "proxy-server.conf").write_text(
            f"{common}bind_port = {self.ports['proxy']}\n\n"
            "[pipeline:main]\npipeline = catch_errors gatekeeper cache tempauth proxy-server\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
            "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
            "[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\n"
            f"[filter:cache]\nuse = egg:swift#memcache\n{memcache}\n"
            "[filter:tempauth]\nuse = egg:swift#tempauth\n"
            f"user_{USER.replace(':', '_')} = {KEY} .admin\n"
        )

    def start(self, workers: str = "1", timeout: float = 60.0) -> None:
        """memcached, the four servers, each with ``workers`` workers ("auto": one
        per core), and the daemons; returns once the proxy hands out tokens."""
        self._configs(workers)
        memcached = shutil.which("memcached")
        if memcached is None:
            raise RuntimeError("memcached is not installed (apt-get install memcached)")
        port = str(self.ports["memcached"])
        argv = [memcached, "-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "64", "-u", _user()]
        self._spawn("memcached", argv)
        for kind in (*SERVERS, "proxy"):
            binary = str(self.venv / "bin" / f"swift-{kind}-server")
            self._spawn(kind, [binary, str(self.conf_dir / f"{kind}-server.conf")])
        python = str(self.venv / "bin" / "python")
        for daemon, (kind, module) in DAEMONS.items():
            conf = str(self.conf_dir / f"{kind}-server.conf")
            self._spawn(daemon, [python, "-c", DAEMON_MAIN, str(self.conf_dir), module, conf])
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.auth()
                return
            except (httpx.HTTPError, RuntimeError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Swift did not start:\n{self.logs()}") from None
                if any(p.poll() is not None for p in self.procs):
                    raise RuntimeError(f"a Swift process exited:\n{self.logs()}") from None
                time.sleep(0.2)

    def _spawn(self, name: str, argv: list[str]) -> None:
        with (self.root / "logs" / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: a parent and its workers stop together
            )
        self.procs.append(proc)

    def stop(self) -> None:
        """Stop every process this object started (each in its own process group)."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with contextlib.suppress(ProcessLookupError):  # workers left by a dead parent
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs = []

    def auth(self) -> tuple[str, str]:
        """Storage URL and token from tempauth's v1 auth."""
        resp = httpx.get(
            f"{self.proxy_url}/auth/v1.0",
            headers={"X-Auth-User": USER, "X-Auth-Key": KEY},
            timeout=5,
        )
        if resp.status_code != 200:
            raise RuntimeError(f"tempauth answered {resp.status_code}")
        return resp.headers["x-storage-url"], resp.headers["x-auth-token"]

    def container_targets(self, account: str, container: str) -> list[Target]:
        """Where the container's replicas live, by Swift's own ring code."""
        code = (
            "import json, sys\nfrom swift.common.ring import Ring\n"
            "from swift.common.utils import set_swift_dir\nset_swift_dir(sys.argv[1])\n"
            "part, nodes = Ring(sys.argv[1], ring_name='container').get_nodes(*sys.argv[2:])\n"
            "print(json.dumps([[n['ip'], n['port'], n['device'], part] for n in nodes]))\n"
        )
        out = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code, str(self.conf_dir), account, container],
            capture_output=True,
            text=True,
            check=True,
        )
        return [Target(h, int(p), d, int(part)) for h, p, d, part in json.loads(out.stdout)]

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
            for log in sorted((self.root / "logs").glob("*.log"))
        )


def _user() -> str:
    import pwd  # noqa: PLC0415 - POSIX only

    return pwd.getpwuid(os.getuid()).pw_name

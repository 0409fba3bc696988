"""``stratus up``: the whole cloud in one process, on SQLite and the in-process bus.

The contract (DESIGN.md §4): once every service answers, the state directory holds
clouds.yaml, aws.env, swift.env and finally ``ready``; SIGINT/SIGTERM stop it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console

from stratus import services
from stratus.cli import guest_publish, runner
from stratus.cli.client_files import Endpoints, write_all
from stratus.cli.storage_workers import STORAGE_SERVERS, StorageWorkers
from stratus.common.errors import Conflict, InvalidInput, Unavailable
from stratus.compute.agent.service import ComputeAgentService
from stratus.compute.conductor.service import ConductorService
from stratus.compute.virt.registry import SIMULATED
from stratus.identity import models as im
from stratus.identity.bootstrap import DEFAULT_DOMAIN_ID, Secrets, bootstrap, sync_catalog
from stratus.identity.service import IdentityService
from stratus.network.bootstrap import ensure_public_network
from stratus.network.service import NetworkService
from stratus.objectstore import allinone as objectstore_allinone
from stratus.settings import Settings


def prepare_state_dir(path: Path) -> None:
    """Create the state directory and prove it is writable, with a one-line error if not."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(
            "state_dir.unwritable", f"state directory {path} is not writable: {exc.strerror}"
        ) from None


@contextlib.contextmanager
def exclusive(state_dir: Path) -> Iterator[None]:
    """One ``stratus up`` per state directory."""
    fd = os.open(state_dir / "up.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                "state_dir.busy", f"another stratus up is already running on {state_dir}"
            ) from None
        yield
    finally:
        os.close(fd)


def http_ports(settings: Settings, names: tuple[str, ...]) -> dict[str, int]:
    ports = {}
    for name in names:
        port = settings.http_port(name)
        if port is not None:
            ports[name] = port
    return ports


async def _publish(proc: runner.Process, sec: Secrets) -> None:
    """Bootstrap records, sync the catalog with what runs, write the client files."""
    s = proc.settings
    identity = next(svc for svc in proc.services if isinstance(svc, IdentityService))
    st = identity.state
    assert st is not None
    host = s.http.public_host
    catalog = {}
    for svc in proc.services:
        if svc.name in proc.sockets:
            base = f"http://{host}:{proc.http_port(svc.name)}"
            catalog.update({entry.type: (entry, base) for entry in svc.catalog})
    async with st.db.session() as session:
        await bootstrap(session, sec, st.passwords, st.credentials, s.identity.region)
        await sync_catalog(session, catalog, s.identity.region)
        admin_project = await session.scalar(
            sa.select(im.Project.id).filter_by(name="admin", domain_id=DEFAULT_DOMAIN_ID)
        )
    st.changed()
    network = next((svc for svc in proc.services if isinstance(svc, NetworkService)), None)
    if network is not None and network.state is not None and admin_project is not None:
        await ensure_public_network(network.state.db, s.network, admin_project)
    endpoints = Endpoints(
        host, proc.http_port("identity"), object_port=proc.http_port("object-store")
    )
    write_all(s.state_dir, endpoints, sec, s.identity.region)


async def run(settings: Settings, console: Console) -> None:
    started = time.monotonic()
    state_dir = settings.state_dir
    ready = state_dir / "ready"
    ready.unlink(missing_ok=True)
    names = services.ALL_IN_ONE
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in runner.STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    workers = settings.objectstore.storage_workers()
    in_process = tuple(n for n in names if not workers or n not in STORAGE_SERVERS)
    proc = runner.Process(settings, in_process)
    runner.bind_ports(proc, http_ports(settings, names))
    storage: StorageWorkers | None = None
    starting: asyncio.Task[None] | None = None
    try:
        await runner.migrate(settings, names)
        ports = {name: proc.http_port(name) for name in proc.sockets}
        await asyncio.to_thread(objectstore_allinone.prepare, settings, ports)
        sec = Secrets.load_or_create(state_dir / "secrets.json")
        if not settings.metadata.shared_secret:  # one secret for the service and the proxy
            settings.metadata.shared_secret = sec.metadata_shared_secret
        if workers:
            delegated = {n: proc.sockets[n] for n in STORAGE_SERVERS if n in proc.sockets}
            storage = StorageWorkers(settings, delegated, workers)
            # the children import and start beside the other services; until they accept,
            # connections wait in the listening sockets' backlog
            starting = asyncio.create_task(storage.start())
        await runner.start(proc)
        if storage is not None and starting is not None:
            await starting
            await runner.report_heartbeats(proc, storage.names)
        await _publish(proc, sec)
        await _wait_for_compute_hosts(proc)
        runner.settle_heap()
        ready.write_text(f"{os.getpid()}\n")
        _announce(console, proc, time.monotonic() - started)
        publishing = _publish_guest(proc, sec, console)
        await stopping.wait()
        console.print("stratus: stopping")
        if publishing is not None:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
    finally:
        ready.unlink(missing_ok=True)
        await runner.stop(proc)  # the proxy and daemons first: they use the storage servers
        if starting is not None:
            await asyncio.gather(starting, return_exceptions=True)
        if storage is not None:
            await storage.stop()
        for sig in runner.STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL)


def _publish_guest(
    proc: runner.Process, sec: Secrets, console: Console
) -> asyncio.Task[None] | None:
    """On the qemu driver, put the guest image in the image service (in the background:
    building it the first time downloads packages)."""
    s = proc.settings
    if s.compute.driver != "qemu" or "image" not in proc.sockets:
        return None
    host = s.http.public_host
    identity = f"http://{host}:{proc.http_port('identity')}"
    image = f"http://{host}:{proc.http_port('image')}"
    work = guest_publish.publish(identity, image, sec.admin_password, s.state_dir, console)
    return asyncio.create_task(work)


HOSTS_REPORT_TIMEOUT = 30.0  # seconds for this process's compute hosts to be recorded


async def _wait_for_compute_hosts(proc: runner.Process) -> None:
    """Be ready only once the conductor has recorded this process's compute hosts: a
    server created the moment ``ready`` appears must find a host to schedule on."""
    conductors = [svc for svc in proc.services if isinstance(svc, ConductorService)]
    agents = [svc for svc in proc.services if isinstance(svc, ComputeAgentService)]
    if not conductors or not agents:
        return
    names = [host.host for agent in agents for host in agent.hosts]
    try:
        async with asyncio.timeout(HOSTS_REPORT_TIMEOUT):
            await conductors[0].wait_for_hosts(names)
    except TimeoutError:
        raise Unavailable(
            "compute.hosts_unreported",
            f"the compute hosts did not report within {HOSTS_REPORT_TIMEOUT:.0f}s",
        ) from None


def _announce(console: Console, proc: runner.Process, took: float) -> None:
    s = proc.settings
    console.print(f"[bold green]Stratus is up[/] in {took:.1f}s — state in {s.state_dir}")
    for name in proc.sockets:
        console.print(f"  {name:<16} http://{s.http.public_host}:{proc.http_port(name)}")
    _announce_compute(console, proc)
    console.print(f"  export OS_CLIENT_CONFIG_FILE={s.state_dir / 'clouds.yaml'}")
    console.print("  openstack --os-cloud stratus-admin catalog list")


def _announce_compute(console: Console, proc: runner.Process) -> None:
    """Say which hypervisor driver runs: a simulated server must never pass for a VM."""
    cfg = proc.settings.compute
    agents = [svc for svc in proc.services if isinstance(svc, ComputeAgentService)]
    if not agents:
        return
    names = [agent.host for agent in agents[0].hosts]
    hosts = names[0] if len(names) == 1 else f"{len(names)} hosts {names[0]}..{names[-1]}"
    if cfg.driver in SIMULATED:
        console.print(f"  [bold yellow]compute driver: {cfg.driver}[/] on {hosts}")
        console.print("  [yellow]simulated: servers are records, not virtual machines[/]")
    else:
        console.print(f"  compute driver: {cfg.driver} on {hosts}")

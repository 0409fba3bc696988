"""The ``fake`` driver: a hypervisor simulated in memory, for scale and for tests.

Each instance is a record with a power state and a console log; spawning takes
``spawn_delay`` seconds and fails with probability ``failure_rate``, so the scheduler,
retries and a thousand hosts can be exercised honestly on one machine. Fake hosts of
one process share a ``FakeFabric``, which is how a live migration between them moves
an instance; a destination in another process is out of reach (``DriverError``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from stratus.compute.states import PowerState
from stratus.compute.virt import fake_disk
from stratus.compute.virt.driver import (
    Capabilities,
    DriverError,
    HostResources,
    InstanceSpec,
)

P = PowerState


@dataclass
class FakeInstance:
    spec: InstanceSpec
    power: PowerState = P.RUNNING
    console: list[str] = field(default_factory=list)
    pre_resize: InstanceSpec | None = None  # kept by a resize until confirm or revert

    def log(self, line: str) -> None:
        self.console.append(line)


@dataclass(frozen=True, slots=True)
class FakeHostConfig:
    host: str
    vcpus: int = 16
    memory_mb: int = 65536
    local_gb: int = 2000
    spawn_delay: float = 0.0
    failure_rate: float = 0.0
    # for tests: declare the qemu driver's wait for ports, without making taps
    wait_for_ports: bool = False


class FakeFabric:
    """The fake hosts of one process, by name: what a live migration can reach."""

    def __init__(self) -> None:
        self.hosts: dict[str, FakeDriver] = {}


class FakeDriver:
    """Implements ``Driver``, ``Snapshotting``, ``Resizing`` and ``LiveMigrating``."""

    name = "fake"
    capabilities = Capabilities(snapshot=True, resize=True, live_migration=True)

    def __init__(self, config: FakeHostConfig, fabric: FakeFabric | None = None) -> None:
        self.config = config
        if config.wait_for_ports:
            self.capabilities = replace(FakeDriver.capabilities, wait_for_ports=True)
        self._fabric = fabric or FakeFabric()
        self._fabric.hosts[config.host] = self
        self._instances: dict[str, FakeInstance] = {}
        self._random = random.Random()

    async def start(self) -> None:
        """Nothing to probe: the hypervisor is this object."""

    async def host_resources(self) -> HostResources:
        c = self.config
        return HostResources(
            hypervisor_type="fake",
            hypervisor_hostname=c.host,
            vcpus=c.vcpus,
            memory_mb=c.memory_mb,
            local_gb=c.local_gb,
        )

    async def instances(self) -> Mapping[str, PowerState]:
        return {iid: inst.power for iid, inst in self._instances.items()}

    async def spawn(self, spec: InstanceSpec) -> None:
        if self.config.spawn_delay:
            await asyncio.sleep(self.config.spawn_delay)
        if self._random.random() < self.config.failure_rate:
            raise DriverError(f"fake spawn failure injected on host {self.config.host}")
        inst = FakeInstance(spec)
        image = spec.image.id if spec.image is not None else "no image"
        inst.log(f"[    0.000000] Linux version 6.1.0-fake ({image})")
        inst.log(f"[    0.420000] fake: {spec.flavor.vcpus} vCPUs, {spec.flavor.memory_mb} MiB")
        inst.log(f"[    1.000000] cloud-init: hostname {spec.hostname}")
        inst.log(f"{spec.hostname} login: ")
        self._instances[spec.id] = inst

    async def destroy(self, instance_id: str) -> None:
        self._instances.pop(instance_id, None)

    def _get(self, instance_id: str) -> FakeInstance:
        try:
            return self._instances[instance_id]
        except KeyError:
            raise DriverError(f"instance {instance_id} is not on host {self.config.host}") from None

    def _set(self, instance_id: str, power: PowerState, line: str) -> None:
        inst = self._get(instance_id)
        inst.power = power
        inst.log(line)

    async def reboot(self, instance_id: str, *, hard: bool) -> None:
        self._set(instance_id, P.RUNNING, "reboot: hard reset" if hard else "reboot: restarting")

    async def power_off(self, instance_id: str, *, grace: float) -> None:
        self._set(instance_id, P.SHUTDOWN, "reboot: Power down")

    async def power_on(self, instance_id: str) -> None:
        self._set(instance_id, P.RUNNING, "[    0.000000] Linux version 6.1.0-fake (power on)")

    async def pause(self, instance_id: str) -> None:
        self._set(instance_id, P.PAUSED, "")

    async def unpause(self, instance_id: str) -> None:
        self._set(instance_id, P.RUNNING, "")

    async def suspend(self, instance_id: str) -> None:
        self._set(instance_id, P.SUSPENDED, "PM: suspend entry (deep)")

    async def resume(self, instance_id: str) -> None:
        self._set(instance_id, P.RUNNING, "PM: suspend exit")

    async def console_output(self, instance_id: str, length: int | None) -> str:
        lines = [line for line in self._get(instance_id).console if line]
        if length is not None:
            lines = lines[-length:] if length > 0 else []
        return "\n".join(lines) + "\n" if lines else ""

    # ---- capabilities ---------------------------------------------------------------

    async def snapshot(self, instance_id: str, target_path: str, *, disk_format: str) -> str:
        """The disk as a real image file: qcow2 when asked for it, raw otherwise (a raw
        disk is what any other source format converts to)."""
        inst = self._get(instance_id)
        text = f"fake disk of {inst.spec.id} ({inst.spec.hostname})\n".encode()
        if disk_format == "qcow2":
            data = fake_disk.qcow2(text, max(inst.spec.flavor.root_gb, 1) << 30)
        else:
            data, disk_format = fake_disk.raw(text), "raw"
        await asyncio.to_thread(Path(target_path).write_bytes, data)
        inst.log(f"fake: disk written for a snapshot ({disk_format})")
        return disk_format

    async def resize(self, spec: InstanceSpec) -> None:
        inst = self._get(spec.id)
        if inst.power == P.RUNNING:
            raise DriverError(f"instance {spec.id} must be stopped to be resized")
        if inst.pre_resize is None:
            inst.pre_resize = inst.spec
        inst.spec = replace(inst.spec, flavor=spec.flavor)
        inst.log(f"fake: resized to {spec.flavor.name}")

    async def confirm_resize(self, instance_id: str) -> None:
        self._get(instance_id).pre_resize = None

    async def revert_resize(self, instance_id: str) -> None:
        inst = self._get(instance_id)
        if inst.pre_resize is None:
            raise DriverError(f"instance {instance_id} has no resize to revert")
        if inst.power == P.RUNNING:
            raise DriverError(f"instance {instance_id} must be stopped to revert its resize")
        inst.spec, inst.pre_resize = inst.pre_resize, None
        inst.log(f"fake: resize reverted to {inst.spec.flavor.name}")

    async def migrate_out(self, instance_id: str, destination: str) -> None:
        target = self._fabric.hosts.get(destination)
        if target is None:
            raise DriverError(f"fake host {destination} is not reachable from {self.config.host}")
        inst = self._get(instance_id)
        target._instances[instance_id] = inst
        del self._instances[instance_id]
        inst.log(f"fake: live-migrated from {self.config.host} to {destination}")

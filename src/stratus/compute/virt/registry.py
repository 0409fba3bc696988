"""The static registry of hypervisor drivers: a name in settings → a factory.

A factory builds the driver of one host: ``fake`` (simulated) or ``qemu`` (real virtual
machines). Drivers are imported on demand, so an agent loads
only the one it runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from stratus.common.config import ConfigError
from stratus.compute.settings import ComputeSettings
from stratus.compute.virt.driver import Driver

DriverFactory = Callable[[str, ComputeSettings], Driver]


def _fake_factory() -> DriverFactory:
    from stratus.compute.virt.fake import FakeDriver, FakeFabric, FakeHostConfig  # noqa: PLC0415

    fabric = FakeFabric()  # the fake hosts of this process reach each other

    def create(host: str, cfg: ComputeSettings) -> Driver:
        failing = not cfg.fake_failure_hosts or host in cfg.fake_failure_hosts
        config = FakeHostConfig(
            host=host,
            vcpus=cfg.fake_vcpus,
            memory_mb=cfg.fake_memory_mb,
            local_gb=cfg.fake_local_gb,
            spawn_delay=cfg.fake_spawn_delay,
            failure_rate=cfg.fake_failure_rate if failing else 0.0,
            wait_for_ports=cfg.fake_wait_for_ports,
        )
        return FakeDriver(config, fabric)

    return create


def _qemu_factory() -> DriverFactory:
    from stratus.compute.virt.qemu.driver import QemuConfig, QemuDriver  # noqa: PLC0415

    def create(host: str, cfg: ComputeSettings) -> Driver:
        if not cfg.qemu_state_dir:
            raise ConfigError("compute.qemu.state_dir", "compute.qemu_state_dir is not set")
        config = QemuConfig(
            host=host,
            state_dir=Path(cfg.qemu_state_dir).expanduser().resolve(),
            binary=cfg.qemu_binary,
            accel=cfg.qemu_accel,
            run_as=cfg.qemu_user,
            kvm_probe_timeout=cfg.qemu_kvm_probe_timeout,
            console_max_bytes=cfg.qemu_console_max_bytes,
            soft_reboot_timeout=cfg.qemu_soft_reboot_timeout,
            netns=cfg.qemu_netns,
        )
        return QemuDriver(config)

    return create


DRIVERS: dict[str, Callable[[], DriverFactory]] = {"fake": _fake_factory, "qemu": _qemu_factory}

# Whether a driver runs real guests: `stratus up` says so, so that nobody mistakes a
# simulated server for a real one.
SIMULATED = frozenset({"fake"})


def default_for_up() -> str:
    """What ``stratus up`` runs when nobody chose: real VMs whenever QEMU is installed."""
    return "qemu" if shutil.which("qemu-system-x86_64") else "fake"


def factory(name: str) -> DriverFactory:
    """The factory of driver ``name`` (one per agent process: its hosts share it)."""
    try:
        return DRIVERS[name]()
    except KeyError:
        known = ", ".join(DRIVERS)
        raise ConfigError(
            "compute.driver.unknown", f"unknown compute driver {name!r} (known: {known})"
        ) from None

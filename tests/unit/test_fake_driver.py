"""The fake driver is a whole driver (every Protocol), and the registry finds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.cli import main
from stratus.common.config import ConfigError
from stratus.common.errors import InvalidInput
from stratus.compute.agent.service import host_names
from stratus.compute.settings import ComputeSettings
from stratus.compute.states import PowerState
from stratus.compute.virt import registry
from stratus.compute.virt.driver import (
    Driver,
    DriverError,
    FlavorSpec,
    InstanceSpec,
    LiveMigrating,
    Resizing,
    Snapshotting,
)
from stratus.compute.virt.fake import FakeDriver, FakeFabric, FakeHostConfig
from stratus.image.formats import FormatInspector

SPEC = InstanceSpec(id="i-1", name="web", hostname="web", project_id="p",
                    flavor=FlavorSpec(name="m1", vcpus=1, memory_mb=512, root_gb=1),
                    image=None)  # fmt: skip


def test_the_fake_driver_implements_every_protocol() -> None:
    driver = FakeDriver(FakeHostConfig(host="h"))
    for protocol in (Driver, Snapshotting, Resizing, LiveMigrating):
        assert isinstance(driver, protocol)


async def test_power_states_and_console() -> None:
    driver = FakeDriver(FakeHostConfig(host="h"))
    await driver.spawn(SPEC)
    assert await driver.instances() == {"i-1": PowerState.RUNNING}
    await driver.power_off("i-1", grace=0)
    assert await driver.instances() == {"i-1": PowerState.SHUTDOWN}
    assert await driver.console_output("i-1", 1) == "reboot: Power down\n"
    assert await driver.console_output("i-1", 0) == ""
    assert len((await driver.console_output("i-1", None)).splitlines()) == 5
    await driver.destroy("i-1")
    await driver.destroy("i-1")  # a gone instance is fine
    with pytest.raises(DriverError, match="not on host h"):
        await driver.pause("i-1")


async def test_injected_failures_leave_nothing_behind() -> None:
    driver = FakeDriver(FakeHostConfig(host="h", failure_rate=1.0))
    with pytest.raises(DriverError, match="injected on host h"):
        await driver.spawn(SPEC)
    assert await driver.instances() == {}


async def test_live_migration_reaches_only_hosts_of_this_process() -> None:
    fabric = FakeFabric()
    a = FakeDriver(FakeHostConfig(host="a"), fabric)
    b = FakeDriver(FakeHostConfig(host="b"), fabric)
    await a.spawn(SPEC)
    with pytest.raises(DriverError, match="not reachable"):
        await a.migrate_out("i-1", "elsewhere")
    await a.migrate_out("i-1", "b")
    assert (await a.instances(), await b.instances()) == ({}, {"i-1": PowerState.RUNNING})


async def test_registry_builds_fake_hosts_with_their_own_failure_rate() -> None:
    cfg = ComputeSettings(fake_failure_rate=1.0, fake_failure_hosts=["n-fake-2"], fake_vcpus=4)
    make = registry.factory("fake")
    one, two = make("n-fake-1", cfg), make("n-fake-2", cfg)
    assert isinstance(one, FakeDriver) and isinstance(two, FakeDriver)
    assert (one.config.failure_rate, two.config.failure_rate) == (0.0, 1.0)
    assert (await one.host_resources()).vcpus == 4
    with pytest.raises(ConfigError, match="unknown compute driver 'xen'"):
        registry.factory("xen")


def test_only_a_test_setting_makes_fake_hosts_wait_for_their_ports() -> None:
    """Fake hosts make no taps, so by default nothing waits for the network agent; qemu's
    do (the conductor keeps its servers in BUILD until their ports are ACTIVE)."""
    from stratus.compute.virt.qemu.driver import QemuDriver  # noqa: PLC0415

    make = registry.factory("fake")
    plain = make("n-fake-1", ComputeSettings())
    waiting = make("n-fake-2", ComputeSettings(fake_wait_for_ports=True))
    assert not plain.capabilities.wait_for_ports
    assert waiting.capabilities.wait_for_ports
    assert waiting.capabilities.snapshot and waiting.capabilities.live_migration
    assert not FakeDriver.capabilities.wait_for_ports  # the class's stays as it was
    assert QemuDriver.capabilities.wait_for_ports


def test_host_names() -> None:
    assert host_names("n", "fake", 3) == ["n-fake-1", "n-fake-2", "n-fake-3"]
    assert host_names("n", "qemu", 3) == ["n"]


def test_cli_options_choose_the_driver_and_the_fake_hosts(tmp_path: Path) -> None:
    config = tmp_path / "stratus.toml"
    config.write_text("[compute]\nfake_spawn_delay = 0.5\n")
    argv = ["serve", "compute-agent", "--config", str(config), "--driver", "fake",
            "--fake-hosts", "100"]  # fmt: skip
    settings = main._settings(main._parser().parse_args(argv))
    assert (settings.compute.driver, settings.compute.fake_hosts) == ("fake", 100)
    assert settings.compute.fake_spawn_delay == 0.5  # the file's other settings stay
    with pytest.raises(InvalidInput, match="at least 1"):
        main._settings(main._parser().parse_args([*argv[:-1], "0"]))


@pytest.mark.parametrize(("asked", "written"), [("qcow2", "qcow2"), ("raw", "raw"),
                                                ("vmdk", "raw")])  # fmt: skip
async def test_snapshots_are_images_the_image_service_accepts(
    tmp_path: Path, asked: str, written: str
) -> None:
    driver = FakeDriver(FakeHostConfig(host="h"))
    await driver.spawn(SPEC)
    target = tmp_path / "disk"
    assert await driver.snapshot("i-1", str(target), disk_format=asked) == written
    inspector = FormatInspector()
    data = target.read_bytes()
    inspector.feed(data)
    found = inspector.finish(written)  # what the image service checks on upload
    assert found.format == written
    if written == "qcow2":
        assert found.virtual_size == 1 << 30  # the flavor's root disk
        assert data[5 * 65536 :].startswith(b"fake disk of i-1 (web)")
    else:
        assert data.startswith(b"fake disk of i-1 (web)") and len(data) % 512 == 0
    with pytest.raises(DriverError, match="not on host h"):
        await driver.snapshot("gone", str(target), disk_format=asked)

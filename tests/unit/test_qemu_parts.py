"""The qemu driver's pure parts: its command line, console bounds, spec file, registry;
and the guest image's cpio archive (read back by busybox's own cpio)."""

from __future__ import annotations

import gzip
import io
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from stratus.common.config import ConfigError
from stratus.compute.settings import ComputeSettings
from stratus.compute.virt import registry
from stratus.compute.virt.driver import (
    Driver,
    DriverError,
    FlavorSpec,
    ImageSpec,
    InstanceSpec,
    PortSpec,
    Resizing,
    Snapshotting,
)
from stratus.compute.virt.qemu import console, netns, probe, specfile, taps
from stratus.compute.virt.qemu.command import Accelerator, qemu_argv
from stratus.compute.virt.qemu.disks import related_url
from stratus.compute.virt.qemu.driver import QemuDriver
from stratus.compute.virt.qemu.paths import InstancePaths
from stratus.guestimage.cpio import CpioWriter

IMAGE = ImageSpec(id="img-1", disk_format="qcow2", container_format="bare", size=1,
                  checksum=None, properties={"kernel_id": "k-1", "ramdisk_id": "r-1"},
                  download_url="http://images:9292/v2/images/img-1/file",
                  download_token="secret")  # fmt: skip
SPEC = InstanceSpec(id="0f0e0d0c-0000-4000-8000-000000000001", name="web", hostname="web",
                    project_id="p", image=IMAGE,
                    flavor=FlavorSpec(name="m1", vcpus=2, memory_mb=512, root_gb=1,
                                      ephemeral_gb=1),
                    ports=(PortSpec(port_id="p1", mac="fa:16:3e:00:00:01", device="tap1"),),
                    user_data=b"#!/bin/sh\necho hi\n")  # fmt: skip


def _argv(spec: InstanceSpec) -> list[str]:
    return qemu_argv("qemu", spec, InstancePaths(Path("/s/i")), Accelerator("tcg"))


def test_command_line_isolates_and_wires_ports_and_kernel() -> None:
    argv = _argv(SPEC)
    for flag in ("-nodefaults", "-daemonize", "-no-user-config"):
        assert flag in argv
    assert argv[argv.index("-sandbox") + 1].startswith("on")
    assert argv[argv.index("-smp") + 1] == "2" and argv[argv.index("-m") + 1] == "512"
    assert "virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01" in argv
    assert any(a.startswith("tap,id=net0,ifname=tap1,") for a in argv)
    assert sum(a.startswith("virtio-blk-pci") for a in argv) == 2  # root + ephemeral
    assert argv[argv.index("-kernel") + 1] == "/s/i/kernel"
    assert argv[argv.index("-initrd") + 1] == "/s/i/ramdisk"


def test_no_port_means_no_nic_and_no_kernel_property_means_disk_boot() -> None:
    plain = InstanceSpec(id=SPEC.id, name="x", hostname="x", project_id="p", flavor=SPEC.flavor,
                         image=ImageSpec(id="i", disk_format="raw", container_format="bare",
                                         size=1, checksum=None))  # fmt: skip
    argv = _argv(plain)
    assert not any("virtio-net" in a or a.startswith("tap,") for a in argv)
    assert "-kernel" not in argv and "-append" not in argv


def test_kernel_and_ramdisk_come_from_the_same_image_service() -> None:
    assert related_url(IMAGE, "k-1") == "http://images:9292/v2/images/k-1/file"


def test_console_tail_and_trim(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"".join(b"line %d\r\n" % i for i in range(1000)))
    assert console.tail(log, 2, 1 << 20) == "line 998\nline 999\n"
    assert console.tail(log, 0, 1 << 20) == ""
    assert console.tail(tmp_path / "none", None, 100) == ""
    console.trim(log, 4096)
    data = log.read_bytes()
    assert len(data) <= 4096 and data.startswith(b"line ") and data.endswith(b"line 999\r\n")


def test_spec_file_round_trip_drops_the_token(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    specfile.save(SPEC, path)
    back = specfile.load(path)
    assert back.image is not None and back.image.download_token == ""
    assert back.user_data == SPEC.user_data and back.ports == SPEC.ports
    assert back.flavor == SPEC.flavor and "secret" not in path.read_text()


def test_registry_builds_the_qemu_driver(tmp_path: Path) -> None:
    cfg = ComputeSettings(driver="qemu", qemu_state_dir=str(tmp_path))
    driver = registry.factory("qemu")("h1", cfg)
    for protocol in (Driver, Snapshotting, Resizing):
        assert isinstance(driver, protocol)
    with pytest.raises(ConfigError):
        registry.factory("qemu")("h1", ComputeSettings(driver="qemu"))


def test_taps_and_qemu_go_to_the_configured_namespace(tmp_path: Path) -> None:
    cfg = ComputeSettings(driver="qemu", qemu_state_dir=str(tmp_path), qemu_netns="agentns")
    driver = registry.factory("qemu")("h1", cfg)
    assert isinstance(driver, QemuDriver) and driver.config.netns == "agentns"
    argv = ["qemu-system-x86_64", "-uuid", "x"]
    assert netns.exec_argv("agentns", argv) == ["ip", "netns", "exec", "agentns", *argv]
    assert netns.exec_argv("", argv) == argv  # the host's own namespace
    assert netns.ip_argv("agentns", "link", "del", "t") == ["ip", "-n", "agentns", "link",
                                                              "del", "t"]  # fmt: skip
    assert netns.ip_argv("", "link") == ["ip", "link"]


async def test_a_missing_namespace_is_a_clear_error() -> None:
    with pytest.raises(DriverError, match="network agent"):
        await taps.plug((PortSpec(port_id="p", mac="52:54:00:00:00:01", device="tapx"),),
                        "stratus-no-such-namespace")  # fmt: skip
    await taps.unplug(["tapx"], "stratus-no-such-namespace")  # gone with its namespace


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox not installed")
def test_cpio_archive_is_readable(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin/tool").write_text("#!/bin/sh\n")
    (root / "bin/tool").chmod(0o755)
    (root / "bin/alias").symlink_to("tool")
    raw = io.BytesIO()
    writer = CpioWriter(raw)
    writer.tree(root)
    writer.entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    writer.close()
    listing = subprocess.run(["busybox", "cpio", "-t", "-v"], input=raw.getvalue(),
                             capture_output=True, check=True).stdout.decode()  # fmt: skip
    assert "bin/tool" in listing and "bin/alias -> tool" in listing
    assert "crw-------" in listing and "dev/console" in listing
    assert gzip.decompress(gzip.compress(raw.getvalue())) == raw.getvalue()


def test_a_pvm_kvm_is_recognised_by_its_module(tmp_path: Path) -> None:
    """PVM's /dev/kvm runs the probe's boot sector but not our guest kernel."""
    assert not probe.kvm_is_pvm(tmp_path)
    (tmp_path / "kvm").mkdir()
    assert not probe.kvm_is_pvm(tmp_path)
    (tmp_path / "kvm_pvm").mkdir()
    assert probe.kvm_is_pvm(tmp_path)

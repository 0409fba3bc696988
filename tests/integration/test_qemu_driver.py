"""The qemu driver with real QEMU (TCG) and the real guest image, driven as the compute
agent drives it: one guest shared by the tests of this module, in order.

The images are served over HTTP by a small server that demands the build's token, as
the image service's ``/v2/images/{id}/file`` does. Each test starts a new driver on the
same state directory, so every test also checks that a restarted agent adopts the
guest. Everything (QEMU processes, taps, files) is removed even when a test fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from qemu_images import ImageServer, guest_image, serve

from stratus.compute.states import PowerState
from stratus.compute.virt.driver import DriverError, FlavorSpec, ImageSpec, InstanceSpec, PortSpec
from stratus.compute.virt.qemu import process
from stratus.compute.virt.qemu.disks import ImageCache
from stratus.compute.virt.qemu.driver import QemuConfig, QemuDriver
from stratus.compute.virt.qemu.paths import InstancePaths
from stratus.guestimage.build import GuestImage

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed"),
]
P = PowerState
MARKER = "stratus-guest ready"
BOOT_WAIT = 300.0  # TCG on a busy 2-core machine; a functional bound, not a timing check


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> GuestImage:
    return guest_image(tmp_path_factory)


@pytest.fixture(scope="module")
def images(guest: GuestImage) -> Iterator[ImageServer]:
    with serve(guest) as server:
        yield server


def _image(images: ImageServer, checksum: str | None = None) -> ImageSpec:
    return images.disk_image(checksum)


@pytest.fixture(scope="module")
def host_dir() -> Iterator[Path]:
    """A short state directory (unix socket paths are limited), emptied at the end, and
    the network namespace its taps and QEMU live in (as the network agent's would be)."""
    root = Path(tempfile.mkdtemp(prefix="sq", dir="/tmp"))
    subprocess.run(["ip", "netns", "add", _netns(root)], check=True)
    try:
        yield root
    finally:
        for paths in (InstancePaths(d) for d in root.iterdir() if d.is_dir()):
            asyncio.run(process.kill(paths, paths.root.name))
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["ip", "netns", "delete", _netns(root)], check=False)  # and its taps


def _netns(host_dir: Path) -> str:
    return "sqn" + host_dir.name.removeprefix("sq")  # mkdtemp's random part: per run


def _tap_in(netns: str, tap: str) -> bool:
    shown = subprocess.run(["ip", "-n", netns, "link", "show", "dev", tap],
                           capture_output=True, check=False)  # fmt: skip
    return shown.returncode == 0


def _spec(images: ImageServer, tap: str) -> InstanceSpec:
    iid = str(uuid.uuid4())
    mac = "52:54:00:" + ":".join(f"{b:02x}" for b in os.urandom(3))
    return InstanceSpec(
        id=iid, name="vm one", hostname="vm-one", project_id="p1",
        flavor=FlavorSpec(name="tiny", vcpus=1, memory_mb=256, root_gb=1, swap_mb=16),
        image=_image(images),
        ports=(PortSpec(port_id=str(uuid.uuid4()), mac=mac, device=tap),),
    )  # fmt: skip


def _delete_link(netns: str, name: str) -> None:
    subprocess.run(["ip", "-n", netns, "link", "del", name], capture_output=True, check=False)


async def started(host_dir: Path, accel: str = "tcg", probe_seconds: float = 5.0) -> QemuDriver:
    config = QemuConfig(host="qt", state_dir=host_dir, accel=accel,
                        kvm_probe_timeout=probe_seconds, netns=_netns(host_dir))  # fmt: skip
    driver = QemuDriver(config)
    await driver.start()
    return driver


async def _wait_markers(driver: QemuDriver, iid: str, count: int) -> str:
    """The console once it shows ``count`` marker lines."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOOT_WAIT
    while True:
        text = await driver.console_output(iid, None)
        if text.count(MARKER) >= count:
            return text
        if loop.time() > deadline:
            raise AssertionError(f"no boot #{count} of {iid}; console:\n{text[-3000:]}")
        await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
def vm(host_dir: Path, images: ImageServer) -> Iterator[InstanceSpec]:
    tap = f"sqt{os.getpid() % 100000}"
    spec = _spec(images, tap)

    async def spawn() -> None:
        driver = await started(host_dir)
        await driver.spawn(spec)
        await _wait_markers(driver, spec.id, 1)

    try:
        asyncio.run(spawn())
        yield spec
    finally:
        asyncio.run(_destroy(host_dir, spec.id))
        _delete_link(_netns(host_dir), tap)


async def _destroy(host_dir: Path, iid: str) -> None:
    await (await started(host_dir)).destroy(iid)


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (its reaper is init, not us)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _virtual_size(disk: Path) -> int:
    shown = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(disk)],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    return int(json.loads(shown)["virtual-size"])


def _pid(host_dir: Path, iid: str) -> int | None:
    return process.read_pid(InstancePaths(host_dir / iid), iid)


# ---- tests, in order: they share the guest --------------------------------------------


async def test_probe_does_not_trust_dev_kvm(host_dir: Path) -> None:
    driver = await started(host_dir, accel="auto")
    resources = await driver.host_resources()
    assert resources.hypervisor_type == ("KVM" if driver.accel.name == "kvm" else "QEMU")
    assert resources.hypervisor_version >= 7_000_000
    cached = json.loads((host_dir / "accel.json").read_text())
    assert cached["accel"] == driver.accel.name  # the next agent start needs no probe
    (host_dir / "accel.json").write_text(json.dumps({**cached, "accel": "kvm"}))
    assert (await started(host_dir, accel="auto")).accel.name == "kvm"  # read, not probed
    (host_dir / "accel.json").unlink()


async def test_spawned_guest_boots_with_its_tap_and_console(
    host_dir: Path, vm: InstanceSpec
) -> None:
    driver = await started(host_dir)
    assert (await driver.instances())[vm.id] == P.RUNNING
    tap = vm.ports[0].device
    assert _tap_in(_netns(host_dir), tap)  # where the network agent would plug it
    assert not Path(f"/sys/class/net/{tap}").exists()  # not on the host's own interfaces
    pid = _pid(host_dir, vm.id)
    assert pid is not None
    netns_inode = os.stat(f"/run/netns/{_netns(host_dir)}").st_ino
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == netns_inode  # QEMU runs there too
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"-sandbox" in argv and b"-nodefaults" in argv
    assert f"mac={vm.ports[0].mac}".encode() in b",".join(argv)
    last = await driver.console_output(vm.id, 1)
    assert last.count("\n") == 1 and MARKER in last
    assert await driver.console_output(vm.id, 0) == ""


async def test_a_second_build_message_leaves_the_running_guest_alone(
    host_dir: Path, vm: InstanceSpec
) -> None:
    driver = await started(host_dir)
    pid = _pid(host_dir, vm.id)
    disk = host_dir / vm.id / "disk.qcow2"
    before = disk.stat().st_ino, disk.stat().st_size
    await driver.spawn(vm)
    assert _pid(host_dir, vm.id) == pid
    assert (disk.stat().st_ino, disk.stat().st_size) == before


async def test_pause_and_unpause(host_dir: Path, vm: InstanceSpec) -> None:
    driver = await started(host_dir)
    await driver.pause(vm.id)
    assert await driver.power_state(vm.id) == P.PAUSED
    await driver.unpause(vm.id)
    assert await driver.power_state(vm.id) == P.RUNNING


async def test_a_restarted_agent_adopts_the_running_guest(host_dir: Path, vm: InstanceSpec) -> None:
    before = _pid(host_dir, vm.id)
    first, second = await started(host_dir), await started(host_dir)
    assert (await first.instances()) == (await second.instances()) == {vm.id: P.RUNNING}
    assert _pid(host_dir, vm.id) == before


async def test_stop_resize_revert_confirm_and_start(host_dir: Path, vm: InstanceSpec) -> None:
    driver = await started(host_dir)
    await driver.power_off(vm.id, grace=120.0)  # the guest's acpid powers it off
    assert _pid(host_dir, vm.id) is None
    assert (await driver.instances())[vm.id] == P.SHUTDOWN
    text = await driver.console_output(vm.id, None)
    assert "reboot: Power down" in text  # a clean ACPI shutdown, not a kill
    paths = InstancePaths(host_dir / vm.id)
    before = _virtual_size(paths.disk)
    wider = replace(vm, flavor=replace(vm.flavor, root_gb=3, ephemeral_gb=1))
    await driver.resize(wider)
    assert _virtual_size(paths.disk) == 3 * 2**30 and paths.ephemeral.exists()
    await driver.revert_resize(vm.id)  # the old disk back, the new ephemeral disk gone
    assert _virtual_size(paths.disk) == before and not paths.ephemeral.exists()
    bigger = replace(vm, flavor=replace(vm.flavor, root_gb=2))
    await driver.resize(bigger)
    await driver.confirm_resize(vm.id)
    assert not paths.pre_resize.exists()
    boots = text.count(MARKER)
    await driver.power_on(vm.id)
    await _wait_markers(driver, vm.id, boots + 1)
    assert await driver.power_state(vm.id) == P.RUNNING
    # soft and hard reboots: through the API in functional/test_qemu_cloud.py's lifecycle


async def test_resize_refuses_a_running_guest(host_dir: Path, vm: InstanceSpec) -> None:
    driver = await started(host_dir)
    with pytest.raises(DriverError, match="stopped"):
        await driver.resize(vm)


async def test_suspend_and_resume(host_dir: Path, vm: InstanceSpec) -> None:
    driver = await started(host_dir)
    await driver.suspend(vm.id)
    assert _pid(host_dir, vm.id) is None
    assert (await driver.instances())[vm.id] == P.SUSPENDED
    driver = await started(host_dir)  # the saved state survives an agent restart too
    await driver.resume(vm.id)
    assert await driver.power_state(vm.id) == P.RUNNING
    assert not (host_dir / vm.id / "suspended.state").exists()


async def test_snapshot_is_a_standalone_image(host_dir: Path, vm: InstanceSpec) -> None:
    driver = await started(host_dir)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "snap"
        assert await driver.snapshot(vm.id, str(target), disk_format="qcow2") == "qcow2"
        info = subprocess.run(["qemu-img", "info", "--output=json", str(target)],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert '"format": "qcow2"' in info and "backing" not in info
        assert '"virtual-size": 2147483648' in info  # the resized root disk
    assert await driver.power_state(vm.id) == P.RUNNING


async def test_a_killed_qemu_shows_as_shut_down(host_dir: Path, vm: InstanceSpec) -> None:
    driver = await started(host_dir)
    pid = _pid(host_dir, vm.id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await process.wait_gone(pid, vm.id, InstancePaths(host_dir / vm.id), 30.0)
    assert (await driver.instances())[vm.id] == P.SHUTDOWN
    await driver.power_on(vm.id)  # and it can be started again
    assert await driver.power_state(vm.id) == P.RUNNING


async def test_destroy_leaves_nothing_and_is_idempotent(host_dir: Path, vm: InstanceSpec) -> None:
    driver = await started(host_dir)
    pid = _pid(host_dir, vm.id)
    await driver.destroy(vm.id)
    assert pid is not None and not _alive(pid)
    assert not (host_dir / vm.id).exists()
    assert not _tap_in(_netns(host_dir), vm.ports[0].device)
    assert vm.id not in await driver.instances()
    await driver.destroy(vm.id)
    with pytest.raises(DriverError):
        await driver.power_on(vm.id)


async def test_a_corrupt_download_is_refused(host_dir: Path, images: ImageServer) -> None:
    driver = await started(host_dir)
    spec = replace(_spec(images, "sqbad0"), ports=(),
                   image=_image(images, checksum="0" * 32))  # fmt: skip
    shutil.rmtree(host_dir / "_base", ignore_errors=True)
    with pytest.raises(DriverError, match="checksum"):
        await driver.spawn(spec)
    await driver.destroy(spec.id)
    assert not (host_dir / spec.id).exists()
    assert not list((host_dir / "_base").glob("disk*"))


async def test_a_wrong_token_is_refused(host_dir: Path, images: ImageServer) -> None:
    driver = await started(host_dir)
    spec = _spec(images, "sqbad1")
    spec = replace(spec, ports=(), image=replace(_image(images), download_token="nope"))
    shutil.rmtree(host_dir / "_base", ignore_errors=True)
    with pytest.raises(DriverError, match="401"):
        await driver.spawn(spec)
    await driver.destroy(spec.id)


async def test_the_image_format_is_found_when_the_spec_lacks_it(
    tmp_path: Path, images: ImageServer
) -> None:
    cache = ImageCache(tmp_path / "cache")
    path, fmt = await cache.base_image(replace(_image(images), disk_format=""))
    assert fmt == "qcow2" and path.exists()
    with pytest.raises(DriverError, match="not 'vmdk'"):
        await cache.base_image(replace(_image(images), disk_format="vmdk"))


async def test_a_qcow2_with_a_backing_file_is_refused(tmp_path: Path) -> None:
    """Such an image could make QEMU read any host file."""
    (tmp_path / "cache").mkdir()
    overlay = tmp_path / "cache" / "evil"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname",
                    str(overlay), "1M"], check=True)  # fmt: skip
    spec = ImageSpec(id="evil", disk_format="qcow2", container_format="bare", size=0,
                     checksum=None)  # fmt: skip
    with pytest.raises(DriverError, match="standalone"):
        await ImageCache(tmp_path / "cache").base_image(spec)


async def test_qemu_can_run_as_an_unprivileged_user(images: ImageServer) -> None:
    """``-runas``: QEMU drops to the user once its files are open, and still suspends
    (the state file is written by that user) and resumes."""
    root = Path(tempfile.mkdtemp(prefix="sqr", dir="/tmp"))
    driver = QemuDriver(QemuConfig(host="qr", state_dir=root, accel="tcg", run_as="nobody"))
    spec = replace(_spec(images, "unused"), ports=())
    try:
        await driver.start()
        await driver.spawn(spec)
        pid = _pid(root, spec.id)
        assert pid is not None
        uids = Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[:2]
        assert uids == ["65534", "65534"]
        await driver.suspend(spec.id)
        assert await driver.power_state(spec.id) == P.SUSPENDED
        await driver.resume(spec.id)
        assert await driver.power_state(spec.id) == P.RUNNING
    finally:
        await driver.destroy(spec.id)
        shutil.rmtree(root, ignore_errors=True)

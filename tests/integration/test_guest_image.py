"""The guest image's init on a real network: DHCP, OpenStack metadata, hostname, root's
SSH key, user data and dropbear, booted by the qemu driver (TCG).

The guest's tap is moved into a namespace the test creates, where dnsmasq answers DHCP
and a plain HTTP server plays the metadata service on 169.254.169.254; the host's own
network is never touched. Everything is removed even when the test fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from qemu_images import guest_image

from stratus.compute.virt.driver import FlavorSpec, ImageSpec, InstanceSpec, PortSpec
from stratus.compute.virt.qemu.driver import QemuConfig, QemuDriver
from stratus.guestimage.build import GuestImage

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("qemu-system-x86_64", "dnsmasq", "ssh")),
        reason="needs QEMU, dnsmasq and ssh",
    ),
]
GUEST_IP = "10.213.0.10"
BOOT_WAIT = 300.0


@dataclass
class Net:
    ns: str
    tap: str
    mac: str
    metadata: Path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    suffix = f"{os.getpid() % 100000}"
    n = Net(f"sqgn{suffix}", f"sqgt{suffix}", "52:54:00:5e:00:0a", tmp_path / "md")
    _ip("netns", "add", n.ns)
    try:
        yield n
    finally:
        pids = subprocess.run(["ip", "netns", "pids", n.ns], capture_output=True, text=True,
                              check=False).stdout.split()  # fmt: skip
        for pid in pids:
            subprocess.run(["kill", "-9", pid], check=False)
        subprocess.run(["ip", "netns", "del", n.ns], check=False)  # takes the tap with it
        subprocess.run(["ip", "link", "del", n.tap], capture_output=True, check=False)


def _metadata(root: Path, spec: InstanceSpec, key: str, source: str) -> None:
    """The files of an OpenStack (``openstack/latest``) or EC2 (``latest``) tree."""
    assert spec.user_data is not None
    if source == "ec2":
        meta = root / "latest/meta-data"
        (meta / "public-keys/0").mkdir(parents=True)
        (meta / "instance-id").write_text(spec.id)
        (meta / "hostname").write_text(spec.hostname)
        (meta / "public-keys/0/openssh-key").write_text(key + "\n")
        (root / "latest/user-data").write_bytes(spec.user_data)
        return
    latest = root / "openstack/latest"
    latest.mkdir(parents=True)
    meta_data = {"uuid": spec.id, "hostname": spec.hostname, "name": spec.name,
                 "public_keys": {"k1": key + "\n"}, "launch_index": 0}  # fmt: skip
    (latest / "meta_data.json").write_text(json.dumps(meta_data))
    (latest / "user_data").write_bytes(spec.user_data)


async def _serve(n: Net, tmp: Path) -> list[asyncio.subprocess.Process]:
    """Address the tap in the namespace, then dnsmasq and the metadata server."""
    _ip("link", "set", n.tap, "netns", n.ns)
    for args in (("addr", "add", "10.213.0.1/24", "dev", n.tap),
                 ("addr", "add", "169.254.169.254/32", "dev", n.tap),
                 ("link", "set", n.tap, "up"), ("link", "set", "lo", "up")):  # fmt: skip
        _ip("-n", n.ns, *args)
    dnsmasq = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
               f"--interface={n.tap}", "--bind-interfaces", "--pid-file=",
               f"--dhcp-leasefile={tmp}/leases", "--dhcp-range=10.213.0.10,10.213.0.20,1h",
               f"--dhcp-host={n.mac},{GUEST_IP}",
               "--dhcp-option=option:router,10.213.0.1"]  # fmt: skip
    http = ["python3", "-m", "http.server", "80", "--bind", "169.254.169.254",
            "--directory", str(n.metadata)]  # fmt: skip
    procs = []
    for argv in (dnsmasq, http):
        procs.append(await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", n.ns, *argv, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL))  # fmt: skip
    return procs


async def _until(
    what: str, check: Callable[[], Awaitable[bool]], seconds: float = BOOT_WAIT
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(1.0)


async def _ssh(n: Net, key: Path, command: str) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", n.ns, "ssh", "-i", str(key), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", f"root@{GUEST_IP}", command]  # fmt: skip
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True,
                                   check=False, timeout=60)  # fmt: skip


@pytest.mark.parametrize("source", ["openstack", "ec2"])
async def test_guest_reads_metadata_runs_user_data_and_serves_ssh(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, net: Net, source: str
) -> None:
    guest: GuestImage = guest_image(tmp_path_factory)
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    spec = InstanceSpec(
        id=str(uuid.uuid4()), name="meta vm", hostname="meta-vm", project_id="p1",
        flavor=FlavorSpec(name="tiny", vcpus=1, memory_mb=256, root_gb=1),
        image=ImageSpec(id="initrd-only", disk_format="raw", container_format="bare", size=0,
                        checksum=None),
        ports=(PortSpec(port_id="p1", mac=net.mac, device=net.tap),),
        user_data=b"#!/bin/sh\necho user-data-ran-$((6 * 7))\n",
    )  # fmt: skip
    _metadata(net.metadata, spec, key.with_suffix(".pub").read_text().strip(), source)
    state = Path(tempfile.mkdtemp(prefix="sqg", dir="/tmp"))
    driver = QemuDriver(QemuConfig(host="qg", state_dir=state, accel="tcg"))
    procs: list[asyncio.subprocess.Process] = []
    try:
        await driver.start()
        await _spawn_from_files(driver, spec, guest, state)
        procs = await _serve(net, tmp_path)

        async def ready() -> bool:
            return "stratus-guest ready" in await driver.console_output(spec.id, None)

        await _until("the marker line", ready)
        text = await driver.console_output(spec.id, None)
        assert f"stratus-guest ready instance={spec.id} hostname=meta-vm" in text
        assert f"metadata source={source}" in text and "user-data-ran-42" in text
        assert f"has {GUEST_IP}" in text

        async def answers() -> bool:
            return (await _ssh(net, key, "hostname; echo $((40 + 2))")).returncode == 0

        await _until("ssh", answers, 120.0)
        assert (await _ssh(net, key, "hostname; echo $((40 + 2))")).stdout.split() == [
            "meta-vm", "42"]  # fmt: skip
    finally:
        await driver.destroy(spec.id)
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        shutil.rmtree(state, ignore_errors=True)


async def _spawn_from_files(
    driver: QemuDriver, spec: InstanceSpec, guest: GuestImage, state: Path
) -> None:
    """Boot the kernel + initramfs pair alone: place the files as the image cache would
    hold them (an image service download is covered by test_qemu_driver.py)."""
    base = state / "_base"
    base.mkdir(exist_ok=True)
    raw = base / "initrd-only"
    with raw.open("wb") as f:  # an empty raw root disk: the initramfs is the root
        f.truncate(1 << 20)
    for name, src in (("k", guest.kernel), ("r", guest.initrd)):
        shutil.copyfile(src, base / name)
    assert spec.image is not None
    props = {"kernel_id": "k", "ramdisk_id": "r", "os_command_line": "console=ttyS0"}
    image = ImageSpec(id="initrd-only", disk_format="raw", container_format="bare", size=0,
                      checksum=None, properties=props,
                      download_url="http://unused.invalid/v2/images/initrd-only/file")  # fmt: skip
    await driver.spawn(replace(spec, image=image))


@pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")
async def test_guest_reads_a_config_drive_without_network(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No NIC at all: the metadata comes from an ISO 9660 volume labelled config-2."""
    guest = guest_image(tmp_path_factory)
    iid = str(uuid.uuid4())
    spec = InstanceSpec(id=iid, name="cd", hostname="cd-vm", project_id="p",
                        flavor=FlavorSpec(name="t", vcpus=1, memory_mb=256, root_gb=0),
                        image=None,
                        user_data=b"#!/bin/sh\necho from-the-config-drive\n")  # fmt: skip
    _metadata(tmp_path / "cd", spec, "ssh-ed25519 AAAAC3Nza test", "openstack")
    iso, log = tmp_path / "config.iso", tmp_path / "console.log"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), "-V", "config-2",
                    "-J", "-R", str(tmp_path / "cd")], check=True, capture_output=True)  # fmt: skip
    qemu = await asyncio.create_subprocess_exec(
        "qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "256", "-nodefaults",
        "-display", "none", "-kernel", str(guest.kernel), "-initrd", str(guest.initrd),
        "-append", "console=ttyS0", "-serial", f"file:{log}",
        "-drive", f"file={iso},format=raw,if=virtio,readonly=on",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:

        async def ready() -> bool:
            return log.exists() and "stratus-guest ready" in log.read_text(errors="replace")

        await _until("the marker line", ready)
        text = log.read_text(errors="replace")
        assert "metadata source=config-drive" in text and "from-the-config-drive" in text
        assert f"stratus-guest ready instance={iid} hostname=cd-vm" in text
    finally:
        qemu.kill()
        await qemu.wait()

"""A real virtual machine through the real ``openstack`` CLI on ``stratus up`` with the
``qemu`` driver (TCG on this machine): ``stratus up`` builds the guest image from Debian
packages and publishes it (a kernel, a ramdisk and a disk naming them), a server boots
from it with user data and a config drive, and its console shows its own id, its
hostname and its user-data script's output; stop really stops the guest, start boots it again, and
delete leaves no QEMU process behind.

Then two VMs on a private network of project ``demo``: the network agent's data plane
lives in a namespace this cloud owns (``Cloud.agent_namespace``), and the qemu driver
makes the taps and runs QEMU there. Each guest takes its address from the network's
dnsmasq and its metadata (hostname, SSH key) through the proxy at 169.254.169.254, with
no config drive; a namespace plugged into the network as a port (``netguests.Lab``)
logs in to guest one with the injected key, and guest two pings guest one through a
security group that lets SSH and ICMP in.

Then one guest through every lifecycle action (reboot soft and hard, pause, suspend,
snapshot, rebuild from that snapshot, resize on this one host then confirm,
delete): the states ``server show`` gives, and inside the guest over SSH its boot id, a
file on its root disk, one in its tmpfs, and its memory and disk sizes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netguests import Lab, in_ns, sh, wait_for

from cloudproc import Cloud, free_port
from stratus.compute.states import PowerState
from stratus.guestimage.scripts import MARKER

DEMO = "stratus-demo"
BOOT_WAIT = 600.0  # a bound on a TCG boot, never an expectation of speed
OUTSIDE = "172.24.4.1"  # the gateway of ``public``'s subnet: the outside namespace holds it


@pytest.fixture(scope="module")
def qemu_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir = tmp_path_factory.mktemp("qemu-cloud") / "state"
    uplinks = json.dumps({"public": "phys0"})  # the physical network of ``public``
    env = {"STRATUS_COMPUTE__DRIVER": "qemu",
           "STRATUS_NETWORK_AGENT__PHYSICAL_INTERFACES": uplinks}  # fmt: skip
    cloud = Cloud(state_dir=state_dir, identity_port=free_port(), extra_env=env)
    try:
        _wire_outside(cloud)
        cloud.start(timeout=180)
        yield cloud
    finally:
        cloud.stop()  # removes the agent's namespace and outside_namespace(cloud) too
        sh("ip", "netns", "delete", outside_namespace(cloud), check=False)
        leftover = qemu_processes(state_dir)
        for line in leftover:  # a failed test's guests: QEMU outlives its agent by design
            subprocess.run(["kill", "-9", line.split()[0]], check=False)
        assert leftover == [], "a QEMU process outlived its cloud"


def outside_namespace(cloud: Cloud) -> str:
    """A machine on the flat external network ``public``; its name ends like the agent's
    namespace, so ``Cloud.stop`` removes it with the rest of the data plane."""
    return f"out-{cloud.agent_namespace}"


def _wire_outside(cloud: Cloud) -> None:
    """Before ``stratus up``: the agent's namespace gets ``phys0``, the uplink of the
    physical network ``public``, a veth whose other end is the outside namespace holding
    the external subnet's gateway address."""
    outside = outside_namespace(cloud)
    sh("ip", "netns", "add", cloud.agent_namespace)  # the agent adopts an existing one
    sh("ip", "netns", "add", outside)
    in_ns(cloud.agent_namespace, "ip", "link", "add", "phys0", "type", "veth",
          "peer", "name", "eth0", "netns", outside)  # fmt: skip
    in_ns(outside, "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
    in_ns(outside, "ip", "link", "set", "eth0", "up")
    in_ns(outside, "ip", "link", "set", "lo", "up")


def qemu_processes(state_dir: Path) -> list[str]:
    found = subprocess.run(
        ["pgrep", "-af", "qemu-system"], check=False, capture_output=True, text=True
    )
    return [line for line in found.stdout.splitlines() if str(state_dir) in line]


def osc(cloud: Cloud, *args: str, who: str = DEMO) -> Any:
    return cloud.openstack(*args, "-f", "json", cloud=who)


@pytest.fixture(scope="module")
def image(qemu_cloud: Cloud) -> str:
    """The guest image ``stratus up`` publishes by itself on the qemu driver."""
    deadline = time.monotonic() + BOOT_WAIT
    while time.monotonic() < deadline:
        found = osc(qemu_cloud, "image", "list", "--name", "stratus-guest")
        if found and found[0]["Status"] == "active":
            shown = osc(qemu_cloud, "image", "show", found[0]["ID"])
            assert shown["visibility"] == "public"
            assert {"kernel_id", "ramdisk_id"} <= set(shown["properties"])
            return str(found[0]["ID"])
        time.sleep(2)
    raise AssertionError(f"stratus up did not publish its guest image:\n{qemu_cloud.output()}")


def console_until(cloud: Cloud, server_id: str, needle: str, count: int = 1) -> str:
    deadline = time.monotonic() + BOOT_WAIT
    text = ""
    while time.monotonic() < deadline:
        text = cloud.cli("console", "log", "show", server_id, cloud=DEMO).stdout
        if text.count(needle) >= count:
            return text
        time.sleep(2)
    raise AssertionError(f"{needle!r} x{count} not on the console:\n{text[-3000:]}")


def test_a_real_vm_boots_reads_its_config_drive_and_follows_its_state(
    qemu_cloud: Cloud, image: str, tmp_path: Path
) -> None:
    script = tmp_path / "user-data"
    script.write_text("#!/bin/sh\necho user-data-ran-$(hostname)\n")
    server = osc(qemu_cloud, "server", "create", "--image", image, "--flavor", "m1.tiny",
                 "--nic", "none", "--config-drive", "True", "--user-data", str(script),
                 "vm-one")  # fmt: skip
    sid = server["id"]
    wait_status(qemu_cloud, sid, "ACTIVE")
    shown = osc(qemu_cloud, "server", "show", sid, who="stratus-admin")
    assert shown["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    text = console_until(qemu_cloud, sid, MARKER)
    assert f"{MARKER} instance={sid} hostname=vm-one" in text
    assert "user-data-ran-vm-one" in text
    assert len(qemu_processes(qemu_cloud.state_dir)) == 1

    qemu_cloud.openstack("server", "stop", sid, cloud=DEMO)
    wait_status(qemu_cloud, sid, "SHUTOFF")
    assert qemu_processes(qemu_cloud.state_dir) == []  # the guest is really off
    qemu_cloud.openstack("server", "start", sid, cloud=DEMO)
    wait_status(qemu_cloud, sid, "ACTIVE")
    console_until(qemu_cloud, sid, f"{MARKER} instance={sid}", count=2)  # booted again

    qemu_cloud.openstack("server", "delete", sid, cloud=DEMO)
    wait_gone(qemu_cloud, sid)
    assert qemu_processes(qemu_cloud.state_dir) == []


def wait_status(cloud: Cloud, server_id: str, status: str) -> None:
    deadline = time.monotonic() + BOOT_WAIT
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = osc(cloud, "server", "show", server_id)
        if shown["status"] == status:
            return
        assert shown["status"] != "ERROR", shown.get("fault")
        time.sleep(1)
    raise AssertionError(f"server {server_id} never reached {status}: {shown}")


def wait_gone(cloud: Cloud, server_id: str) -> None:
    deadline = time.monotonic() + BOOT_WAIT
    while time.monotonic() < deadline:
        if cloud.cli("server", "show", server_id, cloud=DEMO, check=False).returncode != 0:
            return
        time.sleep(1)
    raise AssertionError(f"server {server_id} was never deleted")


# ---- real guests on a tenant network ------------------------------------------------------


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """Namespaces this test plugs into the cloud's networks; removed even on failure."""
    made = Lab(tmp_path)
    try:
        yield made
    finally:
        made.cleanup()


def addresses(shown: dict[str, Any], network: str) -> list[str]:
    """``server show``'s addresses of ``network`` (a mapping, or text in older clients)."""
    found = shown["addresses"]
    if isinstance(found, dict):
        return [str(a) for a in found.get(network, [])]
    return [a for part in str(found).split(";") if part.strip().startswith(network + "=")
            for a in part.split("=", 1)[1].split(",")]  # fmt: skip


def ssh(ns: str, key: Path, address: str, command: str) -> subprocess.CompletedProcess[str]:
    return in_ns(ns, "ssh", "-i", str(key), "-o", "BatchMode=yes",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "ConnectTimeout=10", f"root@{address}", command,
                 check=False, timeout=90)  # fmt: skip


def ssh_until(ns: str, key: Path, address: str, command: str) -> str:
    """The output of ``command`` once dropbear answers (it starts after the marker)."""
    deadline = time.monotonic() + BOOT_WAIT
    while True:
        got = ssh(ns, key, address, command)
        if got.returncode == 0:
            return got.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"ssh root@{address} {command!r}: {got.stderr}")
        time.sleep(1)


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the openssh client")
def test_two_vms_on_a_private_network_dhcp_metadata_ssh_and_ping(
    qemu_cloud: Cloud, image: str, lab: Lab, tmp_path: Path
) -> None:
    c, tag = qemu_cloud, lab.tag
    key = tmp_path / "id"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    net = osc(c, "network", "create", f"private-{tag}")
    osc(c, "subnet", "create", "--network", net["id"], "--subnet-range", "10.123.7.0/24",
        f"private-{tag}")  # fmt: skip
    group = osc(c, "security", "group", "create", f"ssh-icmp-{tag}")["id"]
    osc(c, "security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
        "--dst-port", "22", "--remote-ip", "0.0.0.0/0", group)  # fmt: skip
    osc(c, "security", "group", "rule", "create", "--ingress", "--protocol", "icmp",
        "--remote-ip", "0.0.0.0/0", group)  # fmt: skip
    osc(c, "keypair", "create", "--public-key", f"{key}.pub", f"key-{tag}")
    ids: list[str] = []
    cleanups: list[tuple[str, ...]] = []  # CLI commands undoing the router and floating IP
    try:
        for name in ("net-one", "net-two"):
            ids.append(osc(c, "server", "create", "--image", image, "--flavor", "m1.tiny",
                           "--network", net["id"], "--security-group", group,
                           "--key-name", f"key-{tag}", name)["id"])  # fmt: skip
        ips = [_booted_on_the_network(c, sid, name, net["name"])
               for sid, name in zip(ids, ("net-one", "net-two"), strict=True)]  # fmt: skip
        tester = _plug_tester(c, lab, net["id"], ids[0])

        said = ssh_until(tester, key, ips[0], "hostname; cat /proc/cmdline")
        assert said.splitlines()[0] == "net-one"  # the hostname from the metadata service
        assert "console=ttyS0" in said
        pinged = ssh_until(tester, key, ips[1], f"ping -c 3 -W 2 {ips[0]}")
        assert " 0 packets received" not in pinged and "packets received" in pinged

        _floating_ip_from_outside(c, tag, key, ids[0], tester, ips[0], cleanups)
    finally:
        for undo in reversed(cleanups):
            c.cli(*undo, cloud=DEMO, check=False)
        for sid in ids:
            c.cli("server", "delete", sid, cloud=DEMO, check=False)
        for sid in ids:
            wait_gone(c, sid)
    assert qemu_processes(c.state_dir) == []


def _booted_on_the_network(cloud: Cloud, server_id: str, name: str, network: str) -> str:
    """The guest's address, once its console shows it took that address by DHCP and
    read its metadata from the OpenStack service (there is no config drive)."""
    wait_status(cloud, server_id, "ACTIVE")
    shown = osc(cloud, "server", "show", server_id)
    assert shown.get("config_drive") in ("", "False", False, None)
    (ip,) = addresses(shown, network)
    text = console_until(cloud, server_id, MARKER)
    assert f"stratus-guest: eth0 has {ip}" in text  # dnsmasq gave it the port's address
    assert "stratus-guest: metadata source=openstack" in text  # via 169.254.169.254
    assert f"{MARKER} instance={server_id} hostname={name}" in text
    return ip


def _plug_tester(cloud: Cloud, lab: Lab, network_id: str, on_server: str) -> str:
    """A namespace on the network as a port of the guests' host would be: a veth named
    like the port's tap in the agent's namespace, then a DHCP lease of the port's address."""
    host = osc(cloud, "server", "show", on_server, who="stratus-admin")["OS-EXT-SRV-ATTR:host"]
    port = osc(cloud, "port", "create", "--network", network_id, f"tester-{lab.tag}")
    cloud.openstack("port", "set", "--host", host, port["id"])
    (fixed,) = port["fixed_ips"]
    guest = lab.guest(
        "tst", cloud.agent_namespace, {"id": port["id"], "mac_address": port["mac_address"]}
    )
    lease = guest.dhcp(lab.script)
    assert lease["ip"] == fixed["ip_address"]
    return guest.ns


def _pings(ns: str, address: str) -> bool:
    return in_ns(ns, "busybox", "ping", "-c", "1", "-W", "2", address, check=False).returncode == 0


def _floating_ip_from_outside(
    cloud: Cloud, tag: str, key: Path, server_id: str, tester: str, fixed: str,
    cleanups: list[tuple[str, ...]],
) -> None:  # fmt: skip
    """A router from the guests' subnet to ``public``; guest one's floating IP lets the
    outside namespace log in to it, and after disassociation the outside no longer
    reaches it while the guest still goes out through the router's SNAT."""
    c, outside, subnet = cloud, outside_namespace(cloud), f"private-{tag}"
    router = osc(c, "router", "create", f"rt-{tag}")["id"]
    cleanups.append(("router", "delete", router))
    c.openstack("router", "set", "--external-gateway", "public", router, cloud=DEMO)
    c.openstack("router", "add", "subnet", router, subnet, cloud=DEMO)
    cleanups.append(("router", "remove", "subnet", router, subnet))
    fip = osc(c, "floating", "ip", "create", "public")
    cleanups.append(("floating", "ip", "delete", fip["id"]))
    address = fip["floating_ip_address"]
    (port,) = osc(c, "port", "list", "--server", server_id)
    c.openstack("floating", "ip", "set", "--port", port["ID"], fip["id"], cloud=DEMO)

    said = ssh_until(outside, key, address, f"hostname; ping -c 3 -W 2 {OUTSIDE}")
    assert said.splitlines()[0] == "net-one"  # the outside reached guest one by its FIP
    assert " 0 packets received" not in said and "packets received" in said
    assert osc(c, "floating", "ip", "show", fip["id"])["status"] == "ACTIVE"
    wait_for("the outside pinging the floating IP", lambda: _pings(outside, address))

    c.openstack("floating", "ip", "unset", "--port", fip["id"], cloud=DEMO)
    wait_for("the floating IP cut off", lambda: not _pings(outside, address), BOOT_WAIT)
    assert ssh(outside, key, address, "hostname").returncode != 0
    # still out through the router's SNAT, as the gateway leg's address
    pinged = ssh_until(tester, key, fixed, f"ping -c 3 -W 2 {OUTSIDE}")
    assert " 0 packets received" not in pinged and "packets received" in pinged


# ---- every lifecycle action, seen from the API and from inside the guest ------------------


def _states(cloud: Cloud, server_id: str) -> tuple[str, str, PowerState, str | None]:
    """``server show``'s status, vm state, power state and task state."""
    shown = osc(cloud, "server", "show", server_id)
    power = PowerState(shown["OS-EXT-STS:power_state"])
    return shown["status"], shown["OS-EXT-STS:vm_state"], power, shown["OS-EXT-STS:task_state"]


def _settles(cloud: Cloud, server_id: str, status: str, vm_state: str, power: PowerState) -> None:
    """The action is over (no task left) and the API shows what it should have done."""
    wait_status(cloud, server_id, status)
    wait_for(f"{server_id}'s task to end", lambda: _states(cloud, server_id)[3] is None, BOOT_WAIT)
    assert _states(cloud, server_id) == (status, vm_state, power, None)


def ssh_fails(ns: str, key: Path, address: str) -> bool:
    """Whether nothing answers SSH at ``address`` for a few seconds (a paused or saved
    guest answers no TCP handshake)."""
    got = in_ns(ns, "ssh", "-i", str(key), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=5", f"root@{address}", "true",
                check=False, timeout=60)  # fmt: skip
    return got.returncode != 0


def _boots(cloud: Cloud, server_id: str) -> int:
    text = cloud.cli("console", "log", "show", server_id, cloud=DEMO).stdout
    return text.count(f"{MARKER} instance={server_id}")


def _booted_after_rebuild(cloud: Cloud, server_id: str, boots: int) -> None:
    """Rebuild makes the instance's files again, its console log among them: the new
    boot's marker is then the log's first (or, were the log kept, one more than ``boots``,
    which is more than one here)."""
    deadline = time.monotonic() + BOOT_WAIT
    while (found := _boots(cloud, server_id)) != 1 and found <= boots:
        if time.monotonic() > deadline:
            raise AssertionError(f"no new boot of {server_id} on its console ({found} markers)")
        time.sleep(2)


BOOT_ID = "cat /proc/sys/kernel/random/boot_id"
ACTIVE = ("ACTIVE", "active", PowerState.RUNNING)


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the openssh client")
def test_lifecycle_actions_reach_the_guest(
    qemu_cloud: Cloud, image: str, lab: Lab, tmp_path: Path
) -> None:
    """One guest through reboot (soft and hard), pause, suspend, snapshot, rebuild from
    that snapshot, resize (confirmed) and delete: each action's states in
    the API, and its effect inside the guest over SSH (its boot id, a file on the root
    disk, a file in its tmpfs /run, its memory and disk sizes)."""
    c, tag = qemu_cloud, lab.tag
    key = tmp_path / "id"
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    cleanups: list[tuple[str, ...]] = []  # CLI commands undoing what the test made
    sid = ""
    try:
        net = osc(c, "network", "create", f"life-{tag}")
        cleanups.append(("network", "delete", net["id"]))
        osc(c, "subnet", "create", "--network", net["id"], "--subnet-range", "10.123.9.0/24",
            f"life-{tag}")  # fmt: skip
        group = osc(c, "security", "group", "create", f"life-{tag}")["id"]
        cleanups.append(("security", "group", "delete", group))
        osc(c, "security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
            "--dst-port", "22", "--remote-ip", "0.0.0.0/0", group)  # fmt: skip
        osc(c, "security", "group", "rule", "create", "--ingress", "--protocol", "icmp",
            "--remote-ip", "0.0.0.0/0", group)  # fmt: skip
        osc(c, "keypair", "create", "--public-key", f"{key}.pub", f"life-{tag}")
        cleanups.append(("keypair", "delete", f"life-{tag}"))
        sid = osc(c, "server", "create", "--image", image, "--flavor", "m1.tiny",
                  "--network", net["id"], "--security-group", group,
                  "--key-name", f"life-{tag}", "life-one")["id"]  # fmt: skip
        ip = _booted_on_the_network(c, sid, "life-one", net["name"])
        cleanups.append(("port", "delete", f"tester-{lab.tag}"))  # before its network
        tester = _plug_tester(c, lab, net["id"], sid)
        _lifecycle(c, tag, key, sid, tester, ip, cleanups)
    finally:
        if sid:
            c.cli("server", "delete", sid, cloud=DEMO, check=False)
            wait_gone(c, sid)
        for undo in reversed(cleanups):
            c.cli(*undo, cloud=DEMO, check=False)
    assert [p for p in qemu_processes(c.state_dir) if sid in p] == []


def _lifecycle(
    c: Cloud, tag: str, key: Path, sid: str, tester: str, ip: str,
    cleanups: list[tuple[str, ...]],
) -> None:  # fmt: skip
    def guest(command: str) -> list[str]:
        return ssh_until(tester, key, ip, command).split()

    # 1. up: a file on the persistent root disk, and this boot's id
    _settles(c, sid, *ACTIVE)
    (boot,) = guest(f"echo a > /root/a; sync; {BOOT_ID}")

    # 2, 3. soft reboot (ACPI: the guest's init reboots) then hard reboot (a reset)
    for hard in ((), ("--hard",)):
        boots = _boots(c, sid)
        c.openstack("server", "reboot", *hard, sid, cloud=DEMO)
        console_until(c, sid, f"{MARKER} instance={sid}", count=boots + 1)
        _settles(c, sid, *ACTIVE)
        rebooted, a = guest(f"{BOOT_ID}; cat /root/a")
        assert rebooted != boot and a == "a", hard  # a new boot, the same disk
        boot = rebooted

    # 4. pause: the vCPUs stop, nothing answers; unpause: the same boot goes on
    c.openstack("server", "pause", sid, cloud=DEMO)
    _settles(c, sid, "PAUSED", "paused", PowerState.PAUSED)
    assert ssh_fails(tester, key, ip)
    c.openstack("server", "unpause", sid, cloud=DEMO)
    _settles(c, sid, *ACTIVE)
    assert guest(BOOT_ID) == [boot]

    # 5. suspend: the guest's memory goes to a file and QEMU exits; resume restores it,
    # with a file that only lived in RAM (/run is a tmpfs)
    guest("echo r > /run/r")
    c.openstack("server", "suspend", sid, cloud=DEMO)
    _settles(c, sid, "SUSPENDED", "suspended", PowerState.SUSPENDED)
    assert [p for p in qemu_processes(c.state_dir) if sid in p] == []
    assert ssh_fails(tester, key, ip)
    c.openstack("server", "resume", sid, cloud=DEMO)
    _settles(c, sid, *ACTIVE)
    assert guest(f"{BOOT_ID}; cat /run/r") == [boot, "r"]

    # 6. snapshot, then a file the snapshot must not have
    cleanups.append(("image", "delete", f"snap-{tag}"))
    snap = osc(c, "server", "image", "create", "--name", f"snap-{tag}", "--wait", sid)
    shown = osc(c, "image", "show", snap["id"])
    project = osc(c, "token", "issue")["project_id"]
    assert (shown["status"], shown["owner"]) == ("active", project)
    _settles(c, sid, *ACTIVE)
    guest("echo b > /root/b; sync")

    # 7. rebuild from the snapshot: a new boot of the snapshot's disk
    boots = _boots(c, sid)
    c.openstack("server", "rebuild", "--image", snap["id"], "--wait", sid, cloud=DEMO)
    _settles(c, sid, *ACTIVE)
    assert snap["id"] in str(osc(c, "server", "show", sid)["image"])  # "name (id)"
    _booted_after_rebuild(c, sid, boots)
    rebuilt, *root = guest(f"{BOOT_ID}; ls /root")
    assert rebuilt != boot
    assert "a" in root and "b" not in root

    # 8. resize on this one host (cold: the guest boots again with the new flavor's
    # memory and root disk, its files kept), then confirm; a revert puts the old disks
    # back (test_qemu_driver.py) and the old flavor and claim (test_compute_resize_in_place.py)
    def sizes() -> tuple[int, int, str]:
        """(MemTotal in KiB, root disk in 512-byte sectors, /root/a) inside the guest."""
        mem, disk, a = guest("awk '/MemTotal/ {print $2}' /proc/meminfo; "
                             "cat /sys/block/vda/size; cat /root/a")  # fmt: skip
        return int(mem), int(disk), a

    mem, disk, a = sizes()
    assert mem < 512 * 1024 and disk < 20 * 2**21 and a == "a"
    boots = _boots(c, sid)
    c.openstack("server", "resize", "--flavor", "m1.small", sid, cloud=DEMO)
    console_until(c, sid, f"{MARKER} instance={sid}", count=boots + 1)
    _settles(c, sid, "VERIFY_RESIZE", "resized", PowerState.RUNNING)
    mem, disk, a = sizes()
    assert mem > 1536 * 1024 and disk == 20 * 2**21 and a == "a"  # 2 GiB, 20 GiB
    c.openstack("server", "resize", "confirm", sid, cloud=DEMO)
    _settles(c, sid, *ACTIVE)
    assert "m1.small" in str(osc(c, "server", "show", sid)["flavor"])
    assert sizes() == (mem, disk, "a")  # the same guest goes on

    # 9. delete: gone from the API, and its QEMU with it
    c.openstack("server", "delete", sid, cloud=DEMO)
    wait_gone(c, sid)
    assert [p for p in qemu_processes(c.state_dir) if sid in p] == []

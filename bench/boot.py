"""Real VM boot benchmark: ``POST /servers`` to the guest's marker line on its console.

Starts ``stratus up`` on the ``qemu`` driver in a temporary directory (TCG here: the
KVM probe decides), waits for the guest image it publishes, then:

- one boot, split into the control plane (the POST until the conductor has cast the
  build to the agent: task state ``spawning``, polled every 10 ms), QEMU start
  (until the server is ACTIVE: the agent's spawn returned with QEMU running) and the
  guest's boot (until ``stratus-guest ready`` is on its console);
- the same guest booted by a bare ``qemu-system-x86_64`` in the same run (same kernel,
  initramfs, a fresh overlay of the same disk, the same config drive), to the same line;
- ``--concurrent`` boots at once: boots per minute until every marker is there;
- the resident memory of each idle guest's QEMU process (``VmHWM``), beside its RAM.

    .venv/bin/python bench/boot.py [--concurrent 5]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from image import admin_token

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cloudproc import Cloud, free_port

MARKER = b"stratus-guest ready"
VERSION = {"OpenStack-API-Version": "compute 2.79"}
WAIT = 900.0  # a bound on TCG boots, never an expectation


async def wait_image(http: httpx.AsyncClient, cloud: Cloud) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = (
            await http.get(f"{cloud.image_url}/v2/images", params={"name": "stratus-guest"})
        ).json()
        if found["images"] and found["images"][0]["status"] == "active":
            return str(found["images"][0]["id"])
        await asyncio.sleep(1)
    raise RuntimeError("stratus up did not publish its guest image")


async def boot(http: httpx.AsyncClient, cloud: Cloud, image: str, name: str) -> dict[str, Any]:
    """One boot's timeline (monotonic seconds from the POST)."""
    body = {"server": {"name": name, "imageRef": image, "flavorRef": "1", "networks": "none",
                       "config_drive": True}}  # fmt: skip
    start = time.monotonic()
    made = await http.post(f"{cloud.compute_url}/v2.1/servers", json=body, headers=VERSION)
    made.raise_for_status()
    sid = made.json()["server"]["id"]
    spawning = active = marker = None
    while marker is None and time.monotonic() - start < WAIT:
        if active is None:
            shown = (await http.get(f"{cloud.compute_url}/v2.1/servers/{sid}")).json()["server"]
            if shown["status"] == "ERROR":
                raise RuntimeError(f"{name}: {shown.get('fault')}")
            if spawning is None and shown["OS-EXT-STS:task_state"] in ("spawning", None):
                spawning = time.monotonic() - start  # the conductor cast the build
            if shown["status"] == "ACTIVE":
                active = time.monotonic() - start
        else:
            out = await http.post(f"{cloud.compute_url}/v2.1/servers/{sid}/action",
                                  json={"os-getConsoleOutput": {}})  # fmt: skip
            if MARKER in out.json()["output"].encode():
                marker = time.monotonic() - start
        await asyncio.sleep(0.01 if active is None else 0.25)
    return {"id": sid, "control": spawning, "active": active, "marker": marker}


def stop(cloud: Cloud) -> None:
    """Stop the cloud; guests outlive their agent by design, none may outlive the run."""
    cloud.stop()
    subprocess.run(["pkill", "-f", f"qemu-system.*{cloud.state_dir}"], check=False)


async def delete_all(http: httpx.AsyncClient, cloud: Cloud, ids: list[str]) -> None:
    for sid in ids:
        await http.delete(f"{cloud.compute_url}/v2.1/servers/{sid}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        left = [s for s in ids if (await http.get(f"{cloud.compute_url}/v2.1/servers/{s}"))
                .status_code != 404]  # fmt: skip
        if not left:
            return
        await asyncio.sleep(0.5)


def bare_boot(state_dir: Path, server_id: str, work: Path) -> float:
    """The same guest under a bare QEMU, to the same console line (seconds)."""
    guest = state_dir / "guest-image"
    drive = next((state_dir / "qemu").rglob(f"{server_id}/config-drive.iso"))
    overlay, log = work / "bare.qcow2", work / "bare.log"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    str(guest / "stratus-guest.qcow2"), str(overlay)], check=True)  # fmt: skip
    shutil.copy(drive, work / "drive.iso")
    argv = ["qemu-system-x86_64", "-machine", "pc,accel=tcg", "-cpu", "max", "-m", "512",
            "-nodefaults", "-display", "none", "-kernel", str(guest / "stratus-guest.vmlinuz"),
            "-initrd", str(guest / "stratus-guest.initrd"), "-append",
            "console=ttyS0 root=/dev/vda", "-drive", f"file={overlay},format=qcow2,if=virtio",
            "-drive", f"file={work / 'drive.iso'},format=raw,if=virtio,readonly=on",
            "-serial", f"file:{log}"]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        while time.monotonic() - start < WAIT:
            if log.exists() and MARKER in log.read_bytes():
                return time.monotonic() - start
            time.sleep(0.05)
        raise RuntimeError("the bare guest never printed its marker")
    finally:
        proc.kill()
        proc.wait()


def qemu_hwm_mib(state_dir: Path) -> list[float]:
    found = subprocess.run(["pgrep", "-f", f"qemu-system.*{state_dir}"], capture_output=True,
                           text=True, check=False).stdout.split()  # fmt: skip
    sizes = []
    for pid in found:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


async def run(concurrent: int) -> None:
    with tempfile.TemporaryDirectory(prefix="stratus-bench-boot-") as tmp:
        cloud = Cloud(state_dir=Path(tmp) / "state", identity_port=free_port(),
                      extra_env={"STRATUS_COMPUTE__DRIVER": "qemu"})  # fmt: skip
        cloud.start(timeout=300)
        try:
            headers = {"X-Auth-Token": admin_token(cloud)}
            async with httpx.AsyncClient(headers=headers, timeout=120) as http:
                image = await wait_image(http, cloud)
                one = await boot(http, cloud, image, "bench-one")
                bare = await asyncio.to_thread(bare_boot, cloud.state_dir, one["id"], Path(tmp))
                started = time.monotonic()
                many = await asyncio.gather(
                    *(boot(http, cloud, image, f"bench-{i}") for i in range(concurrent))
                )
                took = time.monotonic() - started
                await asyncio.sleep(5)  # idle
                hwm = qemu_hwm_mib(cloud.state_dir)
                await delete_all(http, cloud, [one["id"], *(b["id"] for b in many)])
        finally:
            await asyncio.to_thread(stop, cloud)
    report(one, bare, many, took, hwm, concurrent)


def report(one: dict[str, Any], bare: float, many: list[dict[str, Any]], took: float,
           hwm: list[float], concurrent: int) -> None:  # fmt: skip
    print("boot: stratus up, qemu driver, m1.tiny (512 MiB), config drive, no NIC")
    print(f"  control plane     {one['control'] * 1000:7.0f} ms  (POST to the agent's build)"
          "   (target < 200 ms)")  # fmt: skip
    print(f"  to ACTIVE         {one['active']:7.2f} s   (QEMU started)")
    print(f"  to marker         {one['marker']:7.2f} s   (the guest booted)")
    print(f"  bare QEMU         {bare:7.2f} s   (same guest, same line)"
          f"   (target: total < 2x = {2 * bare:.2f} s)")  # fmt: skip
    print(
        f"  {concurrent} at once        {took:7.2f} s   = {concurrent / took * 60:.1f} boots/min;"
        f" control plane p50 {sorted(b['control'] for b in many)[len(many) // 2] * 1000:.0f} ms"
    )
    if hwm:
        print(f"  QEMU VmHWM idle   {min(hwm):.0f}-{max(hwm):.0f} MiB per guest (RAM 512 MiB,"
              " most of it never touched)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.concurrent))


if __name__ == "__main__":
    main()

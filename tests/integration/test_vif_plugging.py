"""A server is ACTIVE only once its ports are wired (Nova's ``network-vif-plugged``), and
a port that never comes up ends in ERROR with a fault that says which and why.

A real ``stratus up`` whose two fake compute hosts declare that they wait for their
ports (``compute.fake_wait_for_ports``, the qemu driver's behaviour without a VM). Host
``<host>-fake-1`` has a network agent (a simulated host of the cloud's agent, in a
namespace this test made); ``<host>-fake-2`` has none. The test plays QEMU: it makes
the tap (a veth named like the port's tap, its other end in a guest namespace) in the
agent's namespace, and the real agent plugs it and reports the port ACTIVE.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from netguests import Lab, sh

from cloudproc import Cloud, free_port

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or not Path("/usr/sbin/dnsmasq").exists(),
        reason="needs root, dnsmasq and nftables (scripts/system-deps.sh)",
    ),
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
]

TIMEOUT = 20  # compute.vif_plugging_timeout of this cloud, seconds
WAIT = 180.0  # bound on a poll, never an expectation of speed
ADMIN = "stratus-admin"


@dataclass
class Env:
    cloud: Cloud
    lab: Lab
    host: str  # the cloud's host; its fake compute hosts are <host>-fake-1 and -2
    wired_ns: str  # the data plane of <host>-fake-1
    api: httpx.Client  # compute API as admin, microversion 2.62 (events show their host)
    image: str
    network: str

    @property
    def plugged_host(self) -> str:
        return f"{self.host}-fake-1"

    @property
    def unplugged_host(self) -> str:
        return f"{self.host}-fake-2"


def _cloud_env(host: str, wired_ns: str) -> dict[str, str]:
    simulated = [{"host": f"{host}-fake-1", "namespace": wired_ns}]
    return {
        "STRATUS_HOST": host,
        "STRATUS_COMPUTE__FAKE_HOSTS": "2",
        "STRATUS_COMPUTE__FAKE_WAIT_FOR_PORTS": "true",
        "STRATUS_COMPUTE__VIF_PLUGGING_TIMEOUT": str(TIMEOUT),
        "STRATUS_COMPUTE__VIF_PLUGGING_SWEEP_INTERVAL": "0.5",
        "STRATUS_NETWORK_AGENT__SIMULATED_HOSTS": json.dumps(simulated),
        "STRATUS_NETWORK_AGENT__DEBOUNCE": "0.05",
        "STRATUS_NETWORK_AGENT__POLL_INTERVAL": "0.2",
    }


def _remove_simulated_dhcp(lab: Lab) -> None:
    """DHCP namespaces the simulated host's agent made (named after its namespace)."""
    for line in sh("ip", "netns", "list").stdout.splitlines():
        name = line.split(" ")[0]
        if name.startswith("stq-") and name.endswith(lab.tag + "w"):
            sh("ip", "netns", "delete", name, check=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("vifplug")
    lab = Lab(root)
    cloud: Cloud | None = None
    try:
        wired_ns = lab.namespace("w")
        host = f"vp{lab.tag}"
        cloud = Cloud(state_dir=root / "state", identity_port=free_port(),
                      extra_env=_cloud_env(host, wired_ns))  # fmt: skip
        cloud.start(timeout=120)
        token = cloud.openstack("token", "issue", "-f", "json", cloud=ADMIN)["id"]
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.62"}
        image_file = root / "disk.raw"
        image_file.write_bytes(b"\0" * 4096)
        image = cloud.openstack("image", "create", "--file", str(image_file), "--disk-format",
                                "raw", "--container-format", "bare", "--public", "tiny",
                                "-f", "json", cloud=ADMIN)["id"]  # fmt: skip
        net = cloud.openstack("network", "create", "vifnet", "-f", "json", cloud=ADMIN)["id"]
        cloud.openstack("subnet", "create", "--network", net, "--subnet-range", "10.93.0.0/24",
                        "vifsub", "-f", "json", cloud=ADMIN)  # fmt: skip
        with httpx.Client(base_url=f"{cloud.compute_url}/v2.1", headers=headers,
                          timeout=60) as api:  # fmt: skip
            yield Env(cloud, lab, host, wired_ns, api, image, net)
    finally:
        if cloud is not None:
            cloud.stop()
            print(cloud.output()[-3000:], file=sys.stderr)
        _remove_simulated_dhcp(lab)
        lab.cleanup()


def boot(env: Env, name: str, host: str) -> str:
    body = {"server": {"name": name, "imageRef": env.image, "flavorRef": "1",
                       "networks": [{"uuid": env.network}],
                       "availability_zone": f"nova:{host}"}}  # fmt: skip
    r = env.api.post("/servers", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["server"]["id"])


def server(env: Env, server_id: str) -> dict[str, Any]:
    r = env.api.get(f"/servers/{server_id}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["server"]
    return found


def events(env: Env, server_id: str) -> dict[str, dict[str, Any]]:
    """The events of the server's create action, by name."""
    r = env.api.get(f"/servers/{server_id}/os-instance-actions")
    assert r.status_code == 200, r.text
    (create,) = [a for a in r.json()["instanceActions"] if a["action"] == "create"]
    r = env.api.get(f"/servers/{server_id}/os-instance-actions/{create['request_id']}")
    assert r.status_code == 200, r.text
    return {e["event"]: e for e in r.json()["instanceAction"]["events"]}


def waiting(env: Env, server_id: str) -> dict[str, dict[str, Any]] | None:
    """The create's events once the server waits for its ports, else None."""
    found = events(env, server_id)
    return found if "compute_wait_for_vif_plugged" in found else None


def port_of(env: Env, server_id: str) -> dict[str, Any]:
    (port,) = env.cloud.openstack("port", "list", "--device-id", server_id, "--long",
                                  "-f", "json", cloud=ADMIN)  # fmt: skip
    shown: dict[str, Any] = env.cloud.openstack("port", "show", port["ID"], "-f", "json",
                                                cloud=ADMIN)  # fmt: skip
    return shown


def poll(what: str, probe: Any) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.3)


def delete(env: Env, server_id: str) -> None:
    assert env.api.delete(f"/servers/{server_id}").status_code == 204
    poll("the delete", lambda: env.api.get(f"/servers/{server_id}").status_code == 404)


def test_a_server_is_active_only_once_its_port_is_wired(env: Env) -> None:
    sid = boot(env, "wired", env.plugged_host)
    # the fake host spawned it, and the server waits for its port
    spawned = poll("the spawn", lambda: waiting(env, sid))
    assert spawned["compute_build_and_run_instance"]["result"] == "Success"
    assert spawned["compute_wait_for_vif_plugged"]["result"] is None
    shown = server(env, sid)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("BUILD", "spawning")
    assert shown["OS-EXT-SRV-ATTR:host"] == env.plugged_host
    port = port_of(env, sid)
    assert (port["status"], port["binding_host_id"]) == ("DOWN", env.plugged_host)

    # "QEMU" makes the tap: the agent plugs it, the network service tells the conductor
    env.lab.guest("g", env.wired_ns, {"id": port["id"], "mac_address": port["mac_address"]})
    shown = poll("ACTIVE", lambda: (s := server(env, sid))["status"] != "BUILD" and s)
    assert shown["status"] == "ACTIVE", shown.get("fault")
    assert shown["OS-EXT-STS:task_state"] is None
    assert port_of(env, sid)["status"] == "ACTIVE"
    waited = events(env, sid)["compute_wait_for_vif_plugged"]
    assert (waited["result"], waited["host"]) == ("Success", env.plugged_host)
    delete(env, sid)


def test_a_port_never_wired_ends_in_error_naming_it(env: Env) -> None:
    sid = boot(env, "unwired", env.unplugged_host)
    poll("the spawn", lambda: waiting(env, sid))
    port_id = port_of(env, sid)["id"]
    shown = poll("ERROR", lambda: (s := server(env, sid))["status"] != "BUILD" and s)
    assert shown["status"] == "ERROR"
    message = shown["fault"]["message"]
    assert port_id in message, message
    assert f"Timed out after {TIMEOUT} s" in message
    assert f"no network agent has ever reported from host {env.unplugged_host}" in message
    assert f"port {port_id}: DOWN on host {env.unplugged_host}" in shown["fault"]["details"]
    waited = events(env, sid)["compute_wait_for_vif_plugged"]
    assert (waited["result"], waited["host"]) == ("Error", env.unplugged_host)
    assert port_id in waited["traceback"]
    # a server in ERROR holds no ports (the one made for it is deleted)
    gone = env.cloud.openstack("port", "list", "--device-id", sid, "-f", "json", cloud=ADMIN)
    assert gone == []
    delete(env, sid)

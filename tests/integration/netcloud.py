"""The cloud data-plane tests run: a real ``stratus up`` whose network agent lives in a
namespace the test made (host A), with a simulated second host (B) joined to it by an
underlay veth, and a physical interface ``phys0`` for physnet1 leading to an "outside"
namespace (X). Shared by the data-plane test modules; everything it made is removed on
exit, failure included."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netguests import Lab, in_ns, sh

from cloudproc import Cloud, free_port, kill_dnsmasq_of

SECRET = "dataplane-test-secret"
HOST_A, HOST_B = "dp-host-a", "dp-host-b"
UNDERLAY_A, UNDERLAY_B = "192.168.240.1", "192.168.240.2"


@dataclass
class Env:
    cloud: Cloud
    lab: Lab
    ns_a: str
    ns_b: str
    ns_x: str  # a machine on physnet1, the physical network behind flat and VLAN networks
    md_requests: Path
    admin: Any
    demo: Any


def _cloud_env(ns_a: str, ns_b: str, md_port: int) -> dict[str, str]:
    simulated = [{"host": HOST_B, "namespace": ns_b, "local_ip": UNDERLAY_B}]
    return {
        "STRATUS_HOST": HOST_A,
        "STRATUS_NETWORK_AGENT__NAMESPACE": ns_a,
        "STRATUS_NETWORK_AGENT__LOCAL_IP": UNDERLAY_A,
        "STRATUS_NETWORK_AGENT__PHYSICAL_INTERFACES": json.dumps({"physnet1": "phys0"}),
        "STRATUS_NETWORK_AGENT__SIMULATED_HOSTS": json.dumps(simulated),
        "STRATUS_NETWORK_AGENT__PURGE_ON_STOP": "true",
        "STRATUS_NETWORK_AGENT__DEBOUNCE": "0.05",
        "STRATUS_NETWORK_AGENT__POLL_INTERVAL": "0.2",
        "STRATUS_METADATA__SHARED_SECRET": SECRET,
        "STRATUS_METADATA__URL": f"http://127.0.0.1:{md_port}",
    }


@contextlib.contextmanager
def dataplane_cloud(root: Path, extra_env: dict[str, str] | None = None) -> Iterator[Env]:
    """``extra_env`` adds to (or overrides) the cloud's environment."""
    lab = Lab(root)
    state_dir = root / "state"
    cloud: Cloud | None = None
    ns_a = ns_b = ""
    try:
        ns_a, ns_b = lab.namespace("a"), lab.namespace("b")
        lab.underlay(ns_a, ns_b, UNDERLAY_A, UNDERLAY_B)
        ns_x = lab.namespace("x")
        in_ns(ns_a, "ip", "link", "add", "phys0", "type", "veth", "peer", "name", "eth0",
              "netns", ns_x)  # fmt: skip
        in_ns(ns_x, "ip", "link", "set", "eth0", "up")
        md_port = free_port()
        md_requests = lab.metadata_stand_in(md_port)
        env = _cloud_env(ns_a, ns_b, md_port) | (extra_env or {})
        cloud = Cloud(state_dir=state_dir, identity_port=free_port(), extra_env=env)
        cloud.start(timeout=120)
        yield Env(cloud, lab, ns_a, ns_b, ns_x, md_requests, cloud.sdk(), cloud.sdk("stratus-demo"))
    finally:
        if cloud is not None:
            cloud.stop()
            print(cloud.output()[-3000:], file=sys.stderr)
        kill_dnsmasq_of(state_dir)
        # DHCP and router namespaces the agents (scoped by their namespaces) left
        suffixes = tuple(f"-{ns}" for ns in (ns_a, ns_b) if ns)
        for line in sh("ip", "netns", "list").stdout.splitlines():
            name = line.split(" ")[0]
            if suffixes and name.startswith("stq-") and name.endswith(suffixes):
                sh("ip", "netns", "delete", name, check=False)
        lab.cleanup()

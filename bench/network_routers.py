"""Router data-plane benchmark: time from a floating IP associate to the guest answering
ping on it from outside, and from the disassociate to it no longer answering.

Runs the data-plane tests' cloud (``tests/integration/netcloud.py``: ``stratus up`` with
its agent in a namespace and ``public`` flat on physnet1 to an outside namespace), one
router and one guest, then ``--rounds`` associate/disassociate cycles; prints the median
and worst of each.

    .venv/bin/python bench/network_routers.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scheduler import machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
import netcloud
from netguests import Guest, in_ns, wait_for

OUTSIDE = "172.24.4.1"


def run(env: netcloud.Env, rounds: int) -> None:
    in_ns(env.ns_x, "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
    conn, public = env.demo.network, env.admin.network.find_network("public")
    net = conn.create_network(name="bench-lan")
    subnet = conn.create_subnet(network_id=net.id, cidr="10.92.0.0/24", ip_version=4)
    router = conn.create_router(name="bench", external_gateway_info={"network_id": public.id})
    conn.add_interface_to_router(router, subnet_id=subnet.id)
    group = conn.create_security_group(name="bench-icmp")
    conn.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                    ethertype="IPv4", protocol="icmp")  # fmt: skip
    port = conn.create_port(network_id=net.id, security_group_ids=[group.id])
    env.admin.network.update_port(port.id, binding_host_id=netcloud.HOST_A)
    guest = env.lab.guest("g", env.ns_a, {"id": port.id, "mac_address": port.mac_address})
    wait_for("port ACTIVE", lambda: env.admin.network.get_port(port.id).status == "ACTIVE")
    guest.dhcp(env.lab.script)
    wait_for("the guest reaching outside", lambda: guest.ping(OUTSIDE), limit=120)
    fip = conn.create_ip(floating_network_id=public.id)
    outside = Guest(env.ns_x, "", "", env.lab.root / "unused")
    up, down = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        conn.update_ip(fip, port_id=port.id)
        wait_for("reachable", lambda: outside.ping(fip.floating_ip_address), limit=120)
        up.append(time.perf_counter() - start)
        start = time.perf_counter()
        conn.update_ip(fip, port_id=None)
        wait_for("unreachable", lambda: not outside.ping(fip.floating_ip_address), limit=120)
        down.append(time.perf_counter() - start)
    print(f"machine: {machine()}")
    for what, times in (("associate -> reachable", up), ("disassociate -> unreachable", down)):
        print(f"floating IP {what}: median {statistics.median(times):.2f} s, "
              f"worst {max(times):.2f} s ({rounds} rounds; resolution about 1 s: a "
              "failed ping waits 1 s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    extra = {"STRATUS_NETWORK__PUBLIC_PHYSICAL_NETWORK": "physnet1"}
    with (
        tempfile.TemporaryDirectory(prefix="stratus-bench-l3-") as tmp,
        netcloud.dataplane_cloud(Path(tmp), extra) as env,
    ):
        run(env, args.rounds)


if __name__ == "__main__":
    main()

"""Network data-plane benchmark on ``stratus up`` with its agent in a namespace.

Starts ``stratus up`` whose network agent lives in a namespace made here (nothing touches
the machine's interfaces), then prints:

- ports wired per second: ``--wired`` ports created and bound to the agent's host, each
  with a veth named like its tap already present, from the first create until every one
  is ACTIVE (created by 8 clients at once);
- port bind to a working DHCP lease and reachability: one port created and bound on a
  new network, a guest namespace plugged, busybox ``udhcpc`` run once the port is ACTIVE
  (as Nova starts a guest once its VIF is plugged), then a ping of the DHCP server,
  measured from the create (target < 1 s);
- a security-group change over ``--ports`` ports of one host: a rule added to the group
  all of them use, from the API call until the agent's nftables chains hold it (target
  < 2 s).

    .venv/bin/python bench/network.py [--ports 1000] [--wired 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from image import admin_token
from scheduler import machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from netguests import Guest, Lab, in_ns, sh, wait_for

from cloudproc import Cloud, free_port
from stratus.network.agent.sg_rules import group_chain

HOST = "bench-net-host"


async def create_ports(api: httpx.AsyncClient, body: dict[str, Any], count: int) -> list[Any]:
    sem = asyncio.Semaphore(8)

    async def one(i: int) -> Any:
        async with sem:
            r = await api.post("/v2.0/ports", json={"port": body | {"name": f"b{i}"}})
            r.raise_for_status()
            return r.json()["port"]

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def active_count(api: httpx.AsyncClient, net_id: str) -> int:
    r = await api.get("/v2.0/ports", params={"network_id": net_id, "status": "ACTIVE",
                                             "fields": "id"})  # fmt: skip
    return len(r.json()["ports"])


async def wired_per_second(api: httpx.AsyncClient, lab: Lab, ns: str, count: int) -> float:
    net = (await api.post("/v2.0/networks", json={"network": {"name": "wired"}})).json()["network"]
    await api.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                      "cidr": "10.91.0.0/16"}})  # fmt: skip
    started = time.monotonic()
    body = {"network_id": net["id"], "binding:host_id": HOST}
    ports = await create_ports(api, body, count)
    for p in ports:
        in_ns(ns, "ip", "link", "add", "tap" + p["id"][:11], "type", "veth", "peer", "name",
              "p" + p["id"][:11])  # fmt: skip
    while True:
        if await active_count(api, net["id"]) >= count + 1:  # + the DHCP port
            break
        await asyncio.sleep(0.05)
    return count / (time.monotonic() - started)


async def bind_to_ping(api: httpx.AsyncClient, lab: Lab, ns: str) -> float:
    net = (await api.post("/v2.0/networks", json={"network": {"name": "ping"}})).json()["network"]
    subnet = {"network_id": net["id"], "ip_version": 4, "cidr": "10.92.0.0/24"}
    sub = (await api.post("/v2.0/subnets", json={"subnet": subnet})).json()["subnet"]
    guest_ns = lab.namespace("bg")
    started = time.monotonic()
    r = await api.post("/v2.0/ports", json={"port": {"network_id": net["id"],
                                                     "binding:host_id": HOST}})  # fmt: skip
    port = r.json()["port"]
    tap = "tap" + port["id"][:11]
    in_ns(ns, "ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0",
          "netns", guest_ns)  # fmt: skip
    in_ns(guest_ns, "ip", "link", "set", "eth0", "address", port["mac_address"], "up")
    in_ns(ns, "ip", "link", "set", tap, "up")
    while True:  # the guest starts once its port is wired, as Nova waits for vif-plugged
        got = await api.get(f"/v2.0/ports/{port['id']}")
        if got.json()["port"]["status"] == "ACTIVE":
            break
        await asyncio.sleep(0.02)
    g = Guest(guest_ns, port["id"], port["mac_address"], lab.root / "lease.json")
    lease = g.dhcp(lab.script)
    server = lease["dns"].split()[0]
    wait_for("the DHCP server answering ping", lambda: g.ping(server))
    assert lease["ip"] == port["fixed_ips"][0]["ip_address"], (lease, sub)
    return time.monotonic() - started


async def sg_update(api: httpx.AsyncClient, ns: str, count: int) -> float:
    net = (await api.post("/v2.0/networks", json={"network": {"name": "sg"}})).json()["network"]
    await api.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "ip_version": 4,
                                                      "cidr": "10.93.0.0/20"}})  # fmt: skip
    r = await api.post("/v2.0/security-groups", json={"security_group": {"name": "bench"}})
    group = r.json()["security_group"]
    body = {"network_id": net["id"], "binding:host_id": HOST, "security_groups": [group["id"]]}
    ports = await create_ports(api, body, count)
    last = "i_" + ports[-1]["id"][:11]
    rules = group_chain(group["id"], "ingress")

    def filtered() -> bool:
        got = in_ns(ns, "nft", "list", "chain", "inet", "stratus", last, check=False).stdout
        return rules in got

    def chains() -> str:
        return in_ns(ns, "nft", "list", "chain", "inet", "stratus", rules, check=False).stdout

    wait_for("every port filtered", filtered, limit=600)
    started = time.monotonic()
    r = await api.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 5555, "port_range_max": 5555, "ethertype": "IPv4"}})  # fmt: skip
    r.raise_for_status()
    deadline = started + 120
    while time.monotonic() < deadline:
        if "5555" in chains():
            break
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def run(cloud: Cloud, lab: Lab, ns: str, args: argparse.Namespace) -> None:
    token = admin_token(cloud)
    async with httpx.AsyncClient(base_url=cloud.network_url, timeout=120,
                                 headers={"X-Auth-Token": token}) as api:  # fmt: skip
        print(f"machine: {machine()}")
        rate = await wired_per_second(api, lab, ns, args.wired)
        print(f"ports created and wired: {rate:.1f}/s ({args.wired} ports)")
        took = await bind_to_ping(api, lab, ns)
        print(f"port bind -> DHCP lease + ping: {took:.2f} s (target < 1 s)")
        took = await sg_update(api, ns, args.ports)
        print(f"security-group rule applied to {args.ports} ports: {took:.2f} s (target < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--wired", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stratus-bench-net-") as tmp:
        lab = Lab(Path(tmp))
        cloud: Cloud | None = None
        try:
            ns = lab.namespace("a")
            cloud = Cloud(state_dir=Path(tmp) / "state", identity_port=free_port(), extra_env={
                "STRATUS_HOST": HOST, "STRATUS_NETWORK_AGENT__NAMESPACE": ns,
                "STRATUS_NETWORK_AGENT__PURGE_ON_STOP": "true",
                "STRATUS_NETWORK_AGENT__DEBOUNCE": "0.05",
                "STRATUS_NETWORK_AGENT__POLL_INTERVAL": "0.1",
                "STRATUS_NETWORK__QUOTA_PORT": "-1",
            })  # fmt: skip
            cloud.start(timeout=120)
            asyncio.run(run(cloud, lab, ns, args))
        finally:
            if cloud is not None:
                cloud.stop()
            for line in sh("ip", "netns", "list").stdout.splitlines():
                name = line.split(" ")[0]
                if name.startswith("stq-dhcp-") and name.endswith(lab.tag + "a"):
                    sh("ip", "netns", "delete", name, check=False)
            lab.cleanup()


if __name__ == "__main__":
    main()

"""Guests without VMs for data-plane tests: a guest is a network namespace whose ``eth0``
is a veth; the other end, named like the port's tap device, sits in the agent's
namespace, where the agent plugs it into the network's bridge as if QEMU had made it.

Every name carries a per-run tag, and ``Lab.cleanup`` removes every namespace and
process the lab made, so a failed test leaves nothing behind."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DHCP_SCRIPT = textwrap.dedent(
    """\
    #!/bin/sh
    # udhcpc calls this with the lease in its environment (busybox's variables).
    case "$1" in
      bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/$subnet" dev "$interface"
        set -- $staticroutes
        while [ $# -ge 2 ]; do
          ip route replace "$1" via "$2" dev "$interface" onlink 2>/dev/null ||
            ip route replace "$1" dev "$interface"
          shift 2
        done
        printf '{"ip": "%s", "routes": "%s", "dns": "%s"}' "$ip" "$staticroutes" "$dns" \\
          > "$LEASE_FILE"
        ;;
    esac
    """
)

HTTP_GET = textwrap.dedent(
    """\
    import sys, urllib.error, urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(sys.argv[1], timeout=3) as r:
            print(r.status); print(r.read().decode())
    except urllib.error.HTTPError as e:
        print(e.code); print(e.read().decode())
    except OSError as e:
        print(0); print(e)
    """
)

HEADERS_SERVER = textwrap.dedent(
    """\
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    out = sys.argv[2]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with open(out, "a") as f:
                f.write(json.dumps({"path": self.path, **dict(self.headers)}) + "\\n")
            body = b'{"uuid": "stand-in"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def in_ns(
    ns: str, *args: str, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *args, check=check, timeout=timeout)


def wait_for(what: str, probe: Callable[[], bool], limit: float = 60.0) -> None:
    """Poll until ``probe`` holds (a generous bound, so a slow machine never fails it)."""
    deadline = time.monotonic() + limit
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


@dataclass
class Guest:
    ns: str
    port_id: str
    mac: str
    lease_file: Path

    def dhcp(self, script: Path) -> dict[str, str]:
        """Run busybox udhcpc once; return the lease it applied."""
        self.lease_file.unlink(missing_ok=True)
        sh("ip", "netns", "exec", self.ns, "env", f"LEASE_FILE={self.lease_file}", "busybox",
           "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "20", "-T", "1", "-O", "staticroutes",
           "-s", str(script),
           timeout=90)  # fmt: skip
        lease: dict[str, str] = json.loads(self.lease_file.read_text())
        return lease

    def ping(self, address: str, *, source: str | None = None, count: int = 1) -> bool:
        extra = ["-I", source] if source else []
        got = in_ns(self.ns, "busybox", "ping", "-c", str(count), "-W", "1", *extra, address,
                    check=False)  # fmt: skip
        return got.returncode == 0

    def http(self, url: str) -> tuple[int, str]:
        """GET from inside the guest: (status, body); status 0 when nothing answered.
        (busybox-static's wget crashes on this system, so a Python client is used.)"""
        got = in_ns(self.ns, sys.executable, "-c", HTTP_GET, url, check=False)
        status, _, body = got.stdout.partition("\n")
        return (int(status) if status.isdigit() else 0), body


@dataclass
class Lab:
    root: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.script = self.root / "udhcpc.sh"
        self.script.write_text(DHCP_SCRIPT)
        self.script.chmod(0o755)

    def namespace(self, name: str) -> str:
        ns = f"stqt{self.tag}{name}"
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        in_ns(ns, "ip", "link", "set", "lo", "up")
        return ns

    def underlay(self, ns_a: str, ns_b: str, ip_a: str, ip_b: str) -> None:
        """A veth pair between two hosts' namespaces carrying their VXLAN endpoints."""
        in_ns(ns_a, "ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0",
              "netns", ns_b)  # fmt: skip
        for ns, ip in ((ns_a, ip_a), (ns_b, ip_b)):
            in_ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", "ul0")
            in_ns(ns, "ip", "link", "set", "ul0", "up")

    def guest(self, name: str, host_ns: str, port: dict[str, str]) -> Guest:
        ns = self.namespace(name)
        tap = "tap" + port["id"][:11]
        in_ns(host_ns, "ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0",
              "netns", ns)  # fmt: skip
        in_ns(ns, "ip", "link", "set", "eth0", "address", port["mac_address"], "up")
        in_ns(host_ns, "ip", "link", "set", tap, "up")
        return Guest(ns, port["id"], port["mac_address"], self.root / f"lease-{name}.json")

    def start(self, *argv: str, ns: str | None = None) -> subprocess.Popen[bytes]:
        prefix = ["ip", "netns", "exec", ns] if ns else []
        proc = subprocess.Popen([*prefix, *argv], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        self.procs.append(proc)
        return proc

    def metadata_stand_in(self, port: int) -> Path:
        """A real HTTP server standing in for the metadata service; records headers."""
        script, out = self.root / "md_server.py", self.root / "md_requests.jsonl"
        script.write_text(HEADERS_SERVER)
        self.start(sys.executable, str(script), str(port), str(out))
        return out

    def cleanup(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "delete", ns, check=False)

"""The network namespace an instance's taps and its QEMU live in.

When the network agent runs its data plane inside a namespace
(``[network_agent] namespace``), the taps must be made there: the agent only sees and
plugs interfaces of its own namespace. A tap is found by name in the namespace of the
process that opens it, so QEMU must run there too. Empty: the host's own namespace.
"""

from __future__ import annotations

import os

from stratus.compute.virt.driver import DriverError

NETNS_DIR = "/run/netns"  # where `ip netns add` pins named namespaces


def exec_argv(netns: str, argv: list[str]) -> list[str]:
    """``argv`` as run inside ``netns`` (unchanged for the host's namespace)."""
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def ip_argv(netns: str, *args: str) -> list[str]:
    """An ``ip`` command acting on ``netns`` (``ip -n``: no shell enters the namespace)."""
    return ["ip", "-n", netns, *args] if netns else ["ip", *args]


def exists(netns: str) -> bool:
    return not netns or os.path.exists(os.path.join(NETNS_DIR, netns))


def require(netns: str) -> None:
    """A clear error instead of a failing ``ip`` when the namespace is not there yet."""
    if not exists(netns):
        raise DriverError(
            f"network namespace {netns!r} does not exist: the network agent makes it when "
            "it starts (compute.qemu_netns / network_agent.namespace)"
        )

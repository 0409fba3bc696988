"""MAC addresses for ports: the configured base's leading octets, the rest at random.

Uniqueness per network is the ``(network_id, mac_address)`` constraint; a collision
makes ``ipam.retrying`` run the create again with a new draw.
"""

from __future__ import annotations

import secrets


def fixed_octets(base: str) -> list[str]:
    """The base's octets up to its last non-zero one, at least three (Neutron's rule)."""
    octets = base.split(":")
    keep = 3
    while keep < 6 and octets[keep] != "00":
        keep += 1
    return octets[:keep]


def generate(base: str) -> str:
    head = fixed_octets(base)
    tail = [f"{secrets.randbelow(256):02x}" for _ in range(6 - len(head))]
    return ":".join(head + tail)

"""The EC2 metadata tree (``/<version>/meta-data/...``, ``/<version>/user-data``).

A tree of folders and leaves, listed as EC2 does: one entry per line, sorted, a folder
with a trailing ``/``, except a folder that names itself (``public-keys/0`` lists as
``0=<key name>``). Keys appear from the EC2 version that introduced them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from stratus.compute.metadata.record import InstanceMetadata

VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
)
LATEST = "latest"


@dataclass
class Folder:
    entries: dict[str, Node] = field(default_factory=dict)
    label: str | None = None  # how the parent lists it; default ``<name>/``

    def listing(self) -> bytes:
        lines = []
        for name in sorted(self.entries):
            child = self.entries[name]
            if isinstance(child, Folder):
                lines.append(child.label or f"{name}/")
            else:
                lines.append(name)
        return "\n".join(lines).encode()


Node = str | bytes | list[str] | Folder


def render(node: Node) -> bytes:
    """A node's body: a folder's listing, a list one item per line, a leaf as it is."""
    if isinstance(node, Folder):
        return node.listing()
    if isinstance(node, list):
        return "\n".join(node).encode()
    return node if isinstance(node, bytes) else node.encode()


def ec2_id(prefix: str, uuid: str) -> str:
    """An EC2-style id (``i-0123abcd``) from the first 32 bits of a UUID: stable, and
    what guests and tools that parse EC2 ids expect. Until the EC2 API keeps its own id
    mappings, the same UUID prefix always gives the same id."""
    return f"{prefix}-{uuid.replace('-', '')[:8] or '00000000'}"


def _since(version: str, first: str) -> bool:
    return version == LATEST or version >= first


def _first_ip(record: InstanceMetadata, floating: bool) -> str:
    for port in record.ports:
        found = port.floating_ips if floating else port.fixed_ips
        if found:
            return found[0]
    return ""


def meta_data(record: InstanceMetadata, version: str) -> Folder:
    hostname = record.hostname
    tree: dict[str, Node] = {
        "ami-id": ec2_id("ami", record.image_id),
        "ami-launch-index": str(record.launch_index),
        "ami-manifest-path": "FIXME",
        "hostname": hostname,
        "instance-id": ec2_id("i", record.uuid),
        "local-ipv4": _first_ip(record, floating=False),
        "reservation-id": record.reservation_id,
        "security-groups": list(record.security_groups),
    }
    if record.key_name is not None and record.public_key is not None:
        key = Folder({"openssh-key": record.public_key}, label=f"0={record.key_name}")
        tree["public-keys"] = Folder({"0": key})
    if _since(version, "2007-01-19"):
        tree["local-hostname"] = tree["public-hostname"] = hostname
        tree["public-ipv4"] = _first_ip(record, floating=True)
    if _since(version, "2007-08-29"):
        tree["instance-type"] = record.flavor_name
    if _since(version, "2007-12-15"):
        tree["block-device-mapping"] = Folder({d.name: d.device for d in record.block_devices})
    if _since(version, "2008-02-01"):
        tree["placement"] = Folder({"availability-zone": record.availability_zone})
    if _since(version, "2008-09-01"):
        tree["instance-action"] = "none"
    return Folder(tree)


def version_root(record: InstanceMetadata, version: str) -> Folder:
    """``/<version>/``: ``meta-data/`` and, if the instance has some, ``user-data``."""
    root: dict[str, Node] = {"meta-data": meta_data(record, version)}
    if record.user_data is not None:
        root["user-data"] = base64.b64decode(record.user_data)
    return Folder(root)


def lookup(node: Node, parts: list[str]) -> Node | None:
    """The node at ``parts`` below ``node``; None when there is none."""
    for part in parts:
        if not isinstance(node, Folder) or part not in node.entries:
            return None
        node = node.entries[part]
    return node


def as_json(folder: Folder) -> dict[str, Any]:
    """The tree as the config drive's ``meta-data.json`` holds it (Nova's shape: a
    self-naming folder keeps its label under ``_name``)."""
    doc: dict[str, Any] = {}
    for name, child in folder.entries.items():
        if isinstance(child, Folder):
            doc[name] = as_json(child)
            if child.label is not None:
                doc[name]["_name"] = child.label
        elif isinstance(child, bytes):
            doc[name] = child.decode(errors="replace")
        else:
            doc[name] = child
    return doc

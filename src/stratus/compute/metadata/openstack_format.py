"""The OpenStack metadata documents (``/openstack/<version>/...``) of one instance.

Shapes follow Nova's metadata API; a key appears from the version Nova added it in, so a
guest asking for a dated version sees what that version promised. The HTTP service and
the config drive both render from here, so a guest reads the same bytes from either.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from stratus.compute.metadata.record import InstanceMetadata, MetadataPort

VERSIONS = (
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
)
LATEST = "latest"
RANDOM_SEED_BYTES = 512

# file -> first version serving it, in Nova's listing order
_FILES = {
    "meta_data.json": VERSIONS[0],
    "user_data": VERSIONS[0],
    "password": VERSIONS[1],
    "vendor_data.json": VERSIONS[2],
    "network_data.json": VERSIONS[3],
    "vendor_data2.json": VERSIONS[5],
}


def served_since(version: str, first: str) -> bool:
    """Whether ``version`` (a date or ``latest``) includes what ``first`` added."""
    return version == LATEST or version >= first


def new_random_seed() -> str:
    """Entropy for the guest's pool: fresh for every document, as Nova gives it."""
    return base64.b64encode(os.urandom(RANDOM_SEED_BYTES)).decode()


def meta_data(record: InstanceMetadata, version: str, random_seed: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "uuid": record.uuid,
        "meta": dict(record.metadata),
        "hostname": record.hostname,
        "name": record.name,
        "launch_index": record.launch_index,
        "availability_zone": record.availability_zone,
    }
    if record.key_name is not None and record.public_key is not None:
        doc["public_keys"] = {record.key_name: record.public_key}
        if served_since(version, "2016-06-30"):
            key = {"name": record.key_name, "type": "ssh", "data": record.public_key}
            doc["keys"] = [key]
    if served_since(version, "2013-04-04"):
        doc["random_seed"] = random_seed
    if served_since(version, "2015-10-15"):
        doc["project_id"] = record.project_id
    if served_since(version, "2016-06-30"):
        doc["devices"] = []  # tagged devices: none are tagged yet
    return doc


def _link_id(port: MetadataPort, index: int) -> str:
    return f"tap{port.port_id[:11]}" if port.port_id else f"interface{index}"


def network_data(record: InstanceMetadata) -> dict[str, Any]:
    """Links and networks from the instance's ports; every network is DHCP-configured
    (the network's dnsmasq answers), so no static address, route or DNS is stated."""
    links, networks = [], []
    for index, port in enumerate(record.ports):
        link: dict[str, Any] = {
            "id": _link_id(port, index),
            "vif_id": port.port_id,
            "type": "phy",
            "ethernet_mac_address": port.mac,
        }
        if port.mtu is not None:
            link["mtu"] = port.mtu
        links.append(link)
        networks.append(
            {
                "id": f"network{index}",
                "type": "ipv4_dhcp",
                "link": link["id"],
                "network_id": port.network_name,
            }
        )
    return {"links": links, "networks": networks, "services": []}


def user_data(record: InstanceMetadata) -> bytes | None:
    return None if record.user_data is None else base64.b64decode(record.user_data)


def names(record: InstanceMetadata, version: str) -> list[str]:
    """The files of ``/openstack/<version>/`` in listing order (``user_data`` only if the
    instance has some)."""
    return [
        name
        for name, first in _FILES.items()
        if served_since(version, first) and (name != "user_data" or record.user_data is not None)
    ]


def files(record: InstanceMetadata, version: str, random_seed: str) -> dict[str, bytes]:
    """Every file of ``/openstack/<version>/`` by name, in listing order."""
    docs: dict[str, bytes] = {}
    for name in names(record, version):
        content = render(record, name, version, random_seed)
        if content is not None:
            docs[name] = content
    return docs


def render(record: InstanceMetadata, name: str, version: str, seed: str) -> bytes | None:
    """One file's content; None when the instance has no such file."""
    if name == "user_data":
        return user_data(record)
    if name == "password":
        return b""  # no password was posted: Nova answers an empty body
    doc: dict[str, Any] = {}
    if name == "meta_data.json":
        doc = meta_data(record, version, seed)
    elif name == "network_data.json":
        doc = network_data(record)
    return json.dumps(doc).encode()

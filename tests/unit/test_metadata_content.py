"""The metadata content builders: what a record with networks and local disks renders to
(the functional tests boot servers without networks), and the proxy signature check."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from stratus.common.errors import InvalidInput
from stratus.compute.agent.build import instance_spec
from stratus.compute.api.server_request import config_drive_of
from stratus.compute.conductor.metadata import block_devices_of, ports_of
from stratus.compute.conductor.specs import wire_instance
from stratus.compute.metadata import ec2_format, openstack_format
from stratus.compute.metadata.config_drive import drive_files
from stratus.compute.metadata.record import InstanceMetadata
from stratus.compute.metadata.signature import is_valid, sign
from stratus.compute.models import Instance

ADDRESSES: dict[str, Any] = {
    "private": [
        {"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
        {"addr": "172.24.4.9", "version": 4, "OS-EXT-IPS:type": "floating",
         "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
    ],
    "storage": [
        {"addr": "192.168.7.3", "version": 4, "OS-EXT-IPS:type": "fixed",
         "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:02"},
    ],
}  # fmt: skip


def record(**fields: Any) -> InstanceMetadata:
    base: dict[str, Any] = {
        "uuid": "0f1e2d3c-aaaa-bbbb-cccc-000000000001",
        "name": "web",
        "hostname": "web",
        "project_id": "p1",
        "image_id": "12345678-0000-0000-0000-000000000000",
        "ports": ports_of(ADDRESSES),
        "block_devices": block_devices_of({"ephemeral_gb": 1, "swap_mb": 512}),
    }
    return InstanceMetadata(**(base | fields))


def test_ports_group_addresses_by_mac() -> None:
    ports = ports_of(ADDRESSES)
    assert [(p.mac, p.network_name) for p in ports] == [
        ("fa:16:3e:00:00:01", "private"),
        ("fa:16:3e:00:00:02", "storage"),
    ]
    assert ports[0].fixed_ips == ["10.0.0.5"] and ports[0].floating_ips == ["172.24.4.9"]
    assert ports_of({}) == []


def test_network_data_has_one_dhcp_network_per_port() -> None:
    doc = openstack_format.network_data(record())
    assert [link["ethernet_mac_address"] for link in doc["links"]] == [
        "fa:16:3e:00:00:01",
        "fa:16:3e:00:00:02",
    ]
    assert [n["link"] for n in doc["networks"]] == [link["id"] for link in doc["links"]]
    assert {n["type"] for n in doc["networks"]} == {"ipv4_dhcp"}
    assert doc["services"] == []


def test_ec2_addresses_disks_and_ids() -> None:
    tree = ec2_format.meta_data(record(), "latest")
    assert ec2_format.render(tree.entries["local-ipv4"]) == b"10.0.0.5"
    assert ec2_format.render(tree.entries["public-ipv4"]) == b"172.24.4.9"
    assert ec2_format.render(tree.entries["instance-id"]) == b"i-0f1e2d3c"
    assert ec2_format.render(tree.entries["ami-id"]) == b"ami-12345678"
    disks = tree.entries["block-device-mapping"]
    assert ec2_format.render(disks) == b"ami\nephemeral0\nroot\nswap"
    assert ec2_format.lookup(disks, ["swap"]) == "vdc"
    assert "public-keys" not in tree.entries  # no key pair, no folder
    assert ec2_format.lookup(tree, ["placement", "nothing"]) is None


def test_versions_gate_keys() -> None:
    old = ec2_format.meta_data(record(), "1.0")
    assert "placement" not in old.entries and "instance-action" not in old.entries
    first = openstack_format.files(record(), "2012-08-10", "seed")
    assert list(first) == ["meta_data.json"]
    assert "random_seed" not in json.loads(first["meta_data.json"])
    latest = openstack_format.files(record(user_data="aGk="), "latest", "seed")
    assert list(latest) == ["meta_data.json", "user_data", "password", "vendor_data.json",
                            "network_data.json", "vendor_data2.json"]  # fmt: skip
    assert latest["user_data"] == b"hi"


def test_drive_files_share_one_seed_and_carry_both_formats() -> None:
    data = base64.b64encode(b"#!/bin/sh\n").decode()
    files = drive_files(record(user_data=data))
    seeds = {
        json.loads(body)["random_seed"]
        for path, body in files.items()
        if path.endswith("meta_data.json") and "random_seed" in json.loads(body)
    }
    assert len(seeds) == 1
    assert files["openstack/latest/user_data"] == b"#!/bin/sh\n"
    assert files["ec2/latest/user-data"] == b"#!/bin/sh\n"
    assert "openstack/latest/password" not in files
    ec2 = json.loads(files["ec2/latest/meta-data.json"])
    assert ec2["local-ipv4"] == "10.0.0.5" and ec2["placement"] == {"availability-zone": ""}


def test_signature() -> None:
    good = sign("secret", "i1")
    assert is_valid("secret", "i1", good)
    assert is_valid("secret", "i1", good.upper())
    assert not is_valid("secret", "i2", good)
    assert not is_valid("other", "i1", good)
    assert not is_valid("secret", "i1", "")
    assert not is_valid("", "i1", sign("", "i1"))  # no secret: nothing is trusted


FLAGS = [(True, True), ("True", True), ("1", True), (False, False), ("false", False), ("", False)]


@pytest.mark.parametrize(("value", "expected"), FLAGS)
def test_config_drive_flag(value: object, expected: bool) -> None:
    assert config_drive_of(value) is expected


@pytest.mark.parametrize("value", ["maybe", 1, None, []])
def test_config_drive_flag_refuses_other_values(value: object) -> None:
    with pytest.raises(InvalidInput):
        config_drive_of(value)


def test_build_message_carries_the_drive_record_only_with_a_config_drive() -> None:
    flavor = {"name": "m1.tiny", "vcpus": 1, "memory_mb": 512, "root_gb": 1, "swap_mb": 256}
    inst = Instance(id="i1", project_id="p1", user_id="u1", name="web", hostname="web",
                    image_ref="img", flavor=flavor, vm_state="building", key_name="k",
                    key_data="ssh-ed25519 AAAA k", user_data="aGk=", metadata_={"a": "b"},
                    addresses=ADDRESSES, security_groups=["default"], launch_index=2,
                    reservation_id="r-1", availability_zone="west", config_drive=True)  # fmt: skip
    drive = wire_instance(inst).drive_metadata
    assert drive is not None
    assert (drive.uuid, drive.availability_zone, drive.launch_index) == ("i1", "west", 2)
    assert (drive.key_name, drive.user_data, drive.metadata) == ("k", "aGk=", {"a": "b"})
    assert [d.name for d in drive.block_devices] == ["ami", "root", "swap"]
    assert drive.flavor_name == "m1.tiny" and drive.config_drive
    spec = instance_spec(wire_instance(inst))
    assert spec.drive_metadata == drive
    inst.config_drive = False
    assert wire_instance(inst).drive_metadata is None

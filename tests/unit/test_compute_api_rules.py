"""Pure pieces of the compute API: microversion parsing, the status filter's states, key
fingerprints and server create body checks."""

from __future__ import annotations

import base64
import hashlib

import pytest
from starlette.datastructures import Headers

from stratus.common.errors import InvalidInput
from stratus.compute import keys, states
from stratus.compute.api import microversion as mv
from stratus.compute.api.server_list import _BY_STATUS
from stratus.compute.api.server_request import parse


def test_microversion_headers() -> None:
    assert mv.requested(Headers({})) == mv.MIN
    assert mv.requested(Headers({"openstack-api-version": "compute 2.47"})) == (2, 47)
    both = {"openstack-api-version": "volume 3.1, compute 2.60"}
    assert mv.requested(Headers(both)) == (2, 60)
    legacy = {"openstack-api-version": "volume 3.1", "x-openstack-nova-api-version": "2.9"}
    assert mv.requested(Headers(legacy)) == (2, 9)
    assert mv.parse("latest") == mv.MAX
    for text, status in (("2.x", 400), ("2.05", 400), ("2.80", 406), ("2.0", 406), ("3.1", 406)):
        with pytest.raises(mv.VersionError) as err:
            mv.parse(text)
        assert err.value.status == status


def test_every_state_pair_is_found_by_its_status() -> None:
    for vm in states.VmState:
        for task in (None, *states.TaskState):
            assert task in _BY_STATUS[states.status(vm, task)][vm]


def test_ssh_fingerprint_is_md5_of_the_blob() -> None:
    private, public, fingerprint = keys.generate("me")
    assert "OPENSSH PRIVATE KEY" in private and public.endswith(" me")
    blob = base64.b64decode(public.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    assert fingerprint.replace(":", "") == digest
    with pytest.raises(InvalidInput):
        keys.ssh_fingerprint("ssh-rsa not-base64!")


def test_create_body_checks() -> None:
    body = {"name": "a", "imageRef": "http://x/images/abc", "flavorRef": 1}
    req = parse({"server": body}, body, 1, 10)
    assert (req.image_ref, req.flavor_ref, req.networks) == ("abc", "1", "all")
    with pytest.raises(InvalidInput, match="networks"):
        parse({"server": body}, body, 37, 10)
    big = {**body, "user_data": base64.b64encode(b"x" * 11).decode()}
    with pytest.raises(InvalidInput, match="too large"):
        parse({"server": big}, big, 1, 10)
    volume = {
        "name": "a",
        "flavorRef": "1",
        "block_device_mapping_v2": [
            {"source_type": "volume", "destination_type": "volume", "boot_index": 0}
        ],
    }
    with pytest.raises(InvalidInput, match="volumes"):
        parse({"server": volume}, volume, 1, 10)
    from_image = {
        "name": "a",
        "flavorRef": "1",
        "imageRef": "",
        "block_device_mapping_v2": [
            {"source_type": "image", "destination_type": "local", "boot_index": 0, "uuid": "i"}
        ],
    }
    assert parse({"server": from_image}, from_image, 1, 10).image_ref == "i"

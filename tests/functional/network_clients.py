"""The real ``openstack`` CLI and an HTTP client on the network API, for the functional
suites of the network service (Neutron's error format checked in one place)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from cloudproc import Cloud

ADMIN, DEMO = "stratus-admin", "stratus-demo"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def osc(cloud: Cloud, *args: str, who: str = DEMO) -> Any:
    """The CLI's JSON answer to a command that must succeed."""
    return cloud.openstack(*args, "-f", "json", cloud=who)


def refused(cloud: Cloud, *args: str, who: str = DEMO) -> str:
    """The CLI's error output for a command that must fail."""
    result = cloud.cli(*args, cloud=who, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr


def http(cloud: Cloud, who: str) -> httpx.Client:
    """A client on ``/v2.0`` with a token of ``who``."""
    token = cloud.openstack("token", "issue", "-f", "json", cloud=who)["id"]
    return httpx.Client(
        base_url=f"{cloud.network_url}/v2.0", headers={"X-Auth-Token": token}, timeout=60
    )


def neutron_error(response: httpx.Response, status: int, kind: str) -> str:
    """The message of a NeutronError, after checking its status and type."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"NeutronError"}, body
    assert body["NeutronError"]["type"] == kind, body
    assert body["NeutronError"]["detail"] == ""
    return str(body["NeutronError"]["message"])

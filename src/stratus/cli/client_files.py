"""The files ``stratus up`` leaves for clients: clouds.yaml, aws.env, swift.env.

They may name endpoints of services that are not running yet; the catalog is the truth.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from stratus.identity.bootstrap import Secrets, write_private
from stratus.objectstore.settings import PROXY_PORT

EC2_PORT = 8773
OBJECT_PORT = PROXY_PORT


@dataclass(frozen=True)
class Endpoints:
    public_host: str
    identity_port: int
    ec2_port: int = EC2_PORT
    object_port: int = OBJECT_PORT
    scheme: str = "http"  # https when a multi-node cloud sits behind a TLS proxy

    def url(self, port: int, path: str = "") -> str:
        return f"{self.scheme}://{self.public_host}:{port}{path}"


def clouds_yaml(ep: Endpoints, sec: Secrets, region: str) -> str:
    def cloud(user: str, password: str) -> dict[str, object]:
        return {
            "auth": {
                "auth_url": ep.url(ep.identity_port, "/v3"),
                "username": user,
                "password": password,
                "project_name": user,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "auth_type": "password",
            "identity_api_version": 3,
            "region_name": region,
            "interface": "public",
        }

    doc = {
        "clouds": {
            "stratus-admin": cloud("admin", sec.admin_password),
            "stratus-demo": cloud("demo", sec.demo_password),
        }
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _env(values: dict[str, str]) -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())


def aws_env(ep: Endpoints, sec: Secrets, region: str) -> str:
    return _env(
        {
            "AWS_ACCESS_KEY_ID": sec.demo_ec2_access,
            "AWS_SECRET_ACCESS_KEY": sec.demo_ec2_secret,
            "AWS_DEFAULT_REGION": region,
            "STRATUS_EC2_ENDPOINT": ep.url(ep.ec2_port),
            "STRATUS_S3_ENDPOINT": ep.url(ep.object_port),
        }
    )


def swift_env(ep: Endpoints, sec: Secrets) -> str:
    return _env(
        {
            "ST_AUTH": ep.url(ep.object_port, "/auth/v1.0"),
            "ST_USER": "demo:demo",
            "ST_KEY": sec.demo_password,
        }
    )


def write_all(state_dir: Path, ep: Endpoints, sec: Secrets, region: str) -> None:
    write_private(state_dir / "clouds.yaml", clouds_yaml(ep, sec, region))
    write_private(state_dir / "aws.env", aws_env(ep, sec, region))
    write_private(state_dir / "swift.env", swift_env(ep, sec))

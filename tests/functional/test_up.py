"""The `stratus up` contract (DESIGN.md §4), seen as a user sees it."""

from __future__ import annotations

import http.client
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from cloudproc import BIN, Cloud, clean_env, free_port


def run_up(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "stratus"), "up", *args],
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]


def test_client_files_are_written_private_and_usable(cloud: Cloud) -> None:
    for name in ("clouds.yaml", "aws.env", "swift.env", "secrets.json"):
        mode = stat.S_IMODE((cloud.state_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert (cloud.state_dir / "ready").exists()
    clouds = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"]
    assert set(clouds) == {"stratus-admin", "stratus-demo"}
    assert clouds["stratus-demo"]["auth"]["project_name"] == "demo"
    assert clouds["stratus-admin"]["region_name"] == "RegionOne"
    aws = (cloud.state_dir / "aws.env").read_text()
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "STRATUS_EC2_ENDPOINT",
        "STRATUS_S3_ENDPOINT",
    ):
        assert f"export {key}=" in aws
    swift = (cloud.state_dir / "swift.env").read_text()
    assert "export ST_USER=demo:demo" in swift


def test_admin_issues_a_token_and_lists_the_catalog(cloud: Cloud) -> None:
    token = cloud.openstack("token", "issue", "-f", "json")
    assert token["project_id"] and token["user_id"] and token["id"]
    catalog = cloud.openstack("catalog", "list", "-f", "json")
    identity = [c for c in catalog if c["Type"] == "identity"]
    assert identity, catalog
    assert f"127.0.0.1:{cloud.identity_port}" in str(identity[0]["Endpoints"])


def test_unauthenticated_request_says_where_to_authenticate(cloud: Cloud) -> None:
    r = httpx.get(f"{cloud.identity_url}/users", headers={"X-Auth-Token": "not-a-token"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == f'Keystone uri="{cloud.identity_url}"'
    assert r.headers["x-openstack-request-id"].startswith("req-")
    assert r.json()["error"]["code"] == 401


def test_an_idle_keep_alive_connection_is_still_served_after_a_pollers_interval(
    cloud: Cloud,
) -> None:
    """The openstack CLI's ``--wait`` reuses its connection every 5 s; a server that
    closed idle connections after 5 s failed it now and then ("Remote end closed
    connection without response"). One connection, two requests 6 s apart."""
    conn = http.client.HTTPConnection("127.0.0.1", cloud.identity_port, timeout=30)
    try:
        for pause in (0, 6):
            time.sleep(pause)
            conn.request("GET", "/v3")
            answer = conn.getresponse()
            assert answer.status == 200 and answer.read()
            assert conn.sock is not None  # kept open: the next request reuses it
    finally:
        conn.close()


def test_second_run_keeps_records_and_passwords(tmp_path: Path) -> None:
    first = Cloud(state_dir=tmp_path / "state", identity_port=free_port())
    first.start()
    try:
        secrets_before = first.secrets()
        clouds_before = first.clouds_yaml.read_text()
        first.openstack("project", "create", "kept-across-restarts", "-f", "json")
        first.swift("post", "kept")
        (tmp_path / "obj.txt").write_text("still here")
        first.swift("upload", "kept", "obj.txt", cwd=tmp_path)
        public = first.openstack("network", "show", "public", "-f", "json")
    finally:
        assert first.stop() == 0
    assert not (first.state_dir / "ready").exists()
    again = Cloud(state_dir=first.state_dir, identity_port=first.identity_port)
    again.start()
    try:
        assert again.secrets() == secrets_before
        assert again.clouds_yaml.read_text() == clouds_before
        shown = again.openstack("project", "show", "kept-across-restarts", "-f", "json")
        assert shown["name"] == "kept-across-restarts"
        again.openstack("token", "issue", "-f", "json", cloud="stratus-demo")
        # new object-store ports: the rings follow them, the objects stay where they were
        assert again.ports != first.ports
        assert again.swift("download", "kept", "obj.txt", "-o", "-").stdout == "still here"
        # the external network is made once
        nets = again.openstack("network", "list", "--name", "public", "-f", "json")
        assert [n["ID"] for n in nets] == [public["id"]]
    finally:
        assert again.stop() == 0


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = clean_env() | {"STRATUS_IDENTITY__PORT": str(port)}
        result = run_up("--state-dir", str(tmp_path / "state"), env=env)
    assert_one_line_error(result, str(port), "in use")


def test_unwritable_state_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_up("--state-dir", str(blocker / "state"))
    assert_one_line_error(result, str(blocker / "state"), "not writable")


def test_corrupt_config_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "stratus.toml"
    config.write_text("[identity\nport = 5000\n")
    result = run_up("--state-dir", str(tmp_path / "state"), "--config", str(config))
    assert_one_line_error(result, str(config), "not valid TOML")


def test_invalid_setting_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "stratus.toml"
    config.write_text('[identity]\nport = "many"\n')
    result = run_up("--state-dir", str(tmp_path / "state"), "--config", str(config))
    assert_one_line_error(result, "identity.port")


def test_second_up_on_a_running_state_dir_is_refused(cloud: Cloud) -> None:
    env = cloud.env() | {"STRATUS_IDENTITY__PORT": str(free_port())}
    result = run_up("--state-dir", str(cloud.state_dir), env=env)
    assert_one_line_error(result, "already running")
    assert (cloud.state_dir / "ready").exists()

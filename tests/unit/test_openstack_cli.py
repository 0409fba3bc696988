"""The tests' fork server for the ``openstack`` CLI answers as the console script does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import openstack_cli
from cloudproc import clean_env


def _env(**extra: str) -> dict[str, str]:
    return {**clean_env(), "OS_CLIENT_CONFIG_FILE": os.devnull, **extra}


def _both(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], ...]:
    forked = openstack_cli.run(args, env, timeout=60)
    script = [str(openstack_cli.SCRIPT), *args]
    spawned = subprocess.run(script, env=env, capture_output=True, text=True, timeout=60,
                             check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    return forked, spawned


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],  # cliff's unknown command: exit 2
        ["--os-cloud", "nowhere", "server", "list"],  # a cloud clouds.yaml lacks: exit 1
        ["server", "create"],  # argparse's usage error: exit 2, on stderr
    ],
)
def test_exit_code_and_output_match_the_console_script(args: list[str]) -> None:
    forked, spawned = _both(args, _env())
    assert forked.returncode == spawned.returncode != 0
    assert (forked.stdout, forked.stderr) == (spawned.stdout, spawned.stderr)


def test_each_command_sees_only_its_own_environment() -> None:
    first = _env(OS_AUTH_URL="http://127.0.0.1:9/v3", OS_USERNAME="alice", OS_PASSWORD="x")
    shown = _configuration(first)
    assert (shown["auth_url"], shown["username"]) == ("http://127.0.0.1:9/v3", "alice")
    second = _env(OS_AUTH_URL="http://127.0.0.1:7/v3", OS_PROJECT_NAME="p")
    shown = _configuration(second)
    assert (shown["auth_url"], shown["auth.project_name"]) == ("http://127.0.0.1:7/v3", "p")
    assert "username" not in shown


def test_a_relative_path_is_the_callers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clouds.yaml").write_text(
        "clouds:\n  here:\n    auth:\n      auth_url: http://127.0.0.1:5/v3\n"
    )
    monkeypatch.chdir(tmp_path)
    shown = _configuration(_env(OS_CLIENT_CONFIG_FILE="clouds.yaml"), "--os-cloud", "here")
    assert shown["auth.auth_url"] == "http://127.0.0.1:5/v3"


def _configuration(env: dict[str, str], *options: str) -> dict[str, object]:
    """``configuration show``: the settings the CLI read, without contacting anything."""
    done = openstack_cli.run([*options, "configuration", "show", "-f", "json"], env, timeout=60)
    assert done.returncode == 0, done.stderr
    shown: dict[str, object] = json.loads(done.stdout)
    return shown


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An identity URL whose server accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v3"


def test_a_command_over_its_time_is_killed(silent_server: str) -> None:
    env = _env(OS_AUTH_URL=silent_server, OS_USERNAME="a", OS_PASSWORD="b", OS_PROJECT_NAME="p")
    before = _children_of_server()
    with pytest.raises(subprocess.TimeoutExpired):
        openstack_cli.run(["token", "issue"], env, timeout=3)
    deadline = time.monotonic() + 10
    while _children_of_server() != before:  # the hung command's process is gone
        assert time.monotonic() < deadline, "the timed-out command still runs"
        time.sleep(0.05)


def _children_of_server() -> set[int]:
    server = openstack_cli._server().proc.pid
    found = subprocess.run(
        ["pgrep", "-P", str(server)], capture_output=True, text=True, check=False
    )
    return {int(pid) for pid in found.stdout.split()}

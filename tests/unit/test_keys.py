"""The key repository: creation, permissions, rotation and concurrent first start."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from stratus.identity.keys import KeyRepository, KeyRepositoryError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_creates_staged_and_primary_privately(tmp_path: Path) -> None:
    repo = KeyRepository(tmp_path / "keys" / "token", 3)
    keys = repo.load_or_create()
    assert len(keys) == 2
    assert mode(repo.path) == 0o700
    assert sorted(p.name for p in repo.path.iterdir()) == ["0", "1"]
    for p in repo.path.iterdir():
        assert mode(p) == 0o600
    assert keys[0] == (repo.path / "1").read_bytes()  # primary first
    assert keys[1] == (repo.path / "0").read_bytes()  # staged last


def test_second_load_returns_the_same_keys(tmp_path: Path) -> None:
    first = KeyRepository(tmp_path, 3).load_or_create()
    assert KeyRepository(tmp_path, 3).load_or_create() == first


def test_rotation_promotes_staged_and_keeps_max_active(tmp_path: Path) -> None:
    repo = KeyRepository(tmp_path, 3)
    initial = repo.load_or_create()
    staged = initial[-1]
    rotated = repo.rotate()
    assert rotated[0] == staged  # the staged key became primary
    assert len(rotated) == 3
    repo.rotate()
    repo.rotate()
    names = sorted(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit())
    assert len(names) == 3
    assert names[0] == 0 and names[-1] == max(names)
    assert not list(tmp_path.glob("*.tmp"))


def test_tokens_survive_one_rotation_on_another_node(tmp_path: Path) -> None:
    repo = KeyRepository(tmp_path, 3)
    node_a = MultiFernet([Fernet(k) for k in repo.load_or_create()])
    rotated = repo.rotate()
    node_b = MultiFernet([Fernet(k) for k in rotated])
    # B encrypts with the promoted key, which A already accepted as staged.
    assert node_a.decrypt(node_b.encrypt(b"x")) == b"x"
    assert node_b.decrypt(node_a.encrypt(b"y")) == b"y"


def test_corrupt_key_is_a_clear_error(tmp_path: Path) -> None:
    repo = KeyRepository(tmp_path, 3)
    repo.load_or_create()
    (tmp_path / "1").write_text("not a key")
    with pytest.raises(KeyRepositoryError, match="not a Fernet key"):
        repo.load()


def test_max_active_below_two_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        KeyRepository(tmp_path, 1)


def _start(path: str, out: multiprocessing.Queue[list[bytes]]) -> None:
    out.put(KeyRepository(Path(path), 3).load_or_create())


def test_concurrent_first_start_agrees(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[list[bytes]] = ctx.Queue()
    for attempt in range(5):
        target = tmp_path / f"run{attempt}"
        procs = [ctx.Process(target=_start, args=(str(target), results)) for _ in range(4)]
        for p in procs:
            p.start()
        seen = [results.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert all(s == seen[0] for s in seen)
        assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == ["0", "1"]

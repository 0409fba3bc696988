"""A directory of rotated Fernet keys, shared by every node that issues or checks tokens.

The layout follows Keystone's so operators can reason about it the same way: each key is a
file named by a number. ``0`` is the *staged* key: every node already accepts it, so after a
rotation promotes it no node rejects tokens it has not seen yet. The highest number is the
*primary* key, the only one that encrypts. Every other number is a *secondary* key, kept to
decrypt tokens issued before the last rotations until ``max_active`` would be exceeded.

Files appear atomically (written under a temporary name, then hard-linked into place, which
fails if the name exists), so two processes starting on an empty directory at once end up
with one consistent set and never read a half-written key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from cryptography.fernet import Fernet

from stratus.common.errors import InvalidInput

STAGED = 0
_LOCK_NAME = ".rotate.lock"


class KeyRepositoryError(InvalidInput):
    """The key directory holds something that is not a usable key."""


class KeyRepository:
    def __init__(self, path: Path, max_active: int) -> None:
        if max_active < 2:
            raise ValueError("max_active must keep at least the staged and the primary key")
        self.path = path
        self.max_active = max_active

    def load_or_create(self) -> list[bytes]:
        """Return the keys, primary first, then secondaries newest first, then the staged key.

        ``MultiFernet`` encrypts with the first key and tries the others in order, so this
        order makes the common case (a token made with the primary key) the cheapest.
        """
        self._ensure_dir()
        _create_exclusive(self.path / str(STAGED))
        if not any(i > STAGED for i in self._indexes()):
            _create_exclusive(self.path / "1")
        return self.load()

    def load(self) -> list[bytes]:
        indexes = self._indexes()
        if STAGED not in indexes or len(indexes) < 2:
            raise KeyRepositoryError(
                "identity.keys.missing", f"key repository {self.path} has no staged or primary key"
            )
        order = [*sorted((i for i in indexes if i != STAGED), reverse=True), STAGED]
        return [self._read(i) for i in order]

    def rotate(self) -> list[bytes]:
        """Promote the staged key to primary, stage a new key, drop the oldest beyond the limit.

        Rotations are serialised by an exclusive lock on a file in the directory, so two
        operators rotating at once rotate twice rather than corrupting the set.
        """
        self.load_or_create()
        with self._locked():
            indexes = self._indexes()
            promoted = max(indexes) + 1
            # Link first, then replace: a reader never finds the staged key missing.
            os.link(self.path / str(STAGED), self.path / str(promoted))
            fresh = _write_temporary(self.path / str(STAGED))
            os.replace(fresh, self.path / str(STAGED))
            secondaries = sorted(i for i in indexes if i not in (STAGED, promoted))
            # Keep staged + primary + the newest secondaries, max_active keys in all.
            excess = len(secondaries) - (self.max_active - 2)
            for index in secondaries[: max(excess, 0)]:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / str(index)).unlink()
        return self.load()

    def _ensure_dir(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _indexes(self) -> list[int]:
        return [int(p.name) for p in self.path.iterdir() if p.name.isdigit() and p.is_file()]

    def _read(self, index: int) -> bytes:
        key = (self.path / str(index)).read_bytes().strip()
        try:
            if len(base64.urlsafe_b64decode(key)) != 32:
                raise ValueError("wrong length")
        except (binascii.Error, ValueError):
            raise KeyRepositoryError(
                "identity.keys.corrupt", f"key file {self.path / str(index)} is not a Fernet key"
            ) from None
        return key

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.path / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _create_exclusive(target: Path) -> bool:
    """Write a new key at ``target`` unless one exists; return whether this call made it."""
    if target.exists():
        return False
    tmp = _write_temporary(target)
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _write_temporary(target: Path) -> Path:
    """A new key, complete and synced, under a unique temporary name beside ``target``."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key())
        fh.flush()
        os.fsync(fh.fileno())
    return tmp

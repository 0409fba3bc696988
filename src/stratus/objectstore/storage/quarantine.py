"""Moving a corrupt object out of the way, where an operator can still look at it.

The whole hash dir moves to ``<device>/quarantined/objects/<hash>`` (``-<random>`` added
when that name is taken), in one rename on the same filesystem. The suffix is invalidated,
so the replicator sees the object missing here and pushes a good copy from another replica.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from stratus.objectstore.storage.hashdir import make_dirs
from stratus.objectstore.storage.hashes import invalidate
from stratus.objectstore.storage.layout import DevicePaths

log = logging.getLogger(__name__)


def quarantine_hash_dir(device: DevicePaths, hash_dir: Path, why: str) -> Path | None:
    """Blocking. Returns where the dir went, or ``None`` if it was already gone."""
    make_dirs(device.quarantined, fsync=False)
    target = device.quarantined / hash_dir.name
    if target.exists():
        target = target.with_name(f"{hash_dir.name}-{secrets.token_hex(4)}")
    try:
        os.rename(hash_dir, target)
    except FileNotFoundError:
        return None
    log.warning("quarantined %s to %s: %s", hash_dir, target, why)
    partition_dir = hash_dir.parent.parent
    invalidate(partition_dir, hash_dir.parent.name)
    return target

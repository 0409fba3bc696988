"""The flavors a new cloud starts with (Nova's classic m1 set), created once.

Idempotent: a flavor whose id or name already exists is left as it is, so an operator's
edits or deletions of these flavors survive restarts only if they deleted nothing;
set ``compute.default_flavors = false`` to keep a deleted one deleted.
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from stratus.common.db import Database
from stratus.compute.models import Flavor

# id, name, vcpus, memory_mb, root_gb
DEFAULT_FLAVORS: tuple[tuple[str, str, int, int, int], ...] = (
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
)


async def ensure_default_flavors(db: Database) -> None:
    # another API process may create them at the same moment
    with contextlib.suppress(IntegrityError):
        await _create_missing(db)


async def _create_missing(db: Database) -> None:
    async with db.session() as s:
        rows = await s.execute(sa.select(Flavor.id, Flavor.name))
        taken = {value for row in rows for value in row}
        for fid, name, vcpus, ram, disk in DEFAULT_FLAVORS:
            if fid in taken or name in taken:
                continue
            s.add(
                Flavor(
                    id=fid,
                    name=name,
                    vcpus=vcpus,
                    memory_mb=ram,
                    root_gb=disk,
                    ephemeral_gb=0,
                    swap_mb=0,
                    rxtx_factor=1.0,
                    is_public=True,
                    disabled=False,
                    extra_specs={},
                )
            )

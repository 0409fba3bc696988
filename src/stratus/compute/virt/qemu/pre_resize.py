"""Cold resize on one host keeps what it changes until it is confirmed or reverted.

A resize grows the root overlay and may add ephemeral and swap disks; a revert must give
the instance back exactly as it was. Before anything changes, the overlay and the spec
are copied into ``pre-resize/`` (a sparse copy: the overlay holds only what the guest
wrote) beside the names of the extra disks that did not exist yet. Revert moves them
back and removes the disks the resize added; confirm drops the copy.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from stratus.compute.virt.driver import DriverError
from stratus.compute.virt.qemu import disks
from stratus.compute.virt.qemu.paths import InstancePaths

_ABSENT = "absent"  # the extra disks the resize may create, one file name per line


async def keep(paths: InstancePaths) -> None:
    """Copy what a resize changes; a resize delivered twice keeps the first copy."""
    if paths.pre_resize.exists():
        return
    staging = paths.root / "pre-resize.part"
    await asyncio.to_thread(shutil.rmtree, staging, ignore_errors=True)
    await asyncio.to_thread(staging.mkdir)
    for kept in (paths.disk, paths.spec):
        await disks.run("cp", "--sparse=always", "--reflink=auto", str(kept),
                        str(staging / kept.name))  # fmt: skip
    absent = [p.name for p in (paths.ephemeral, paths.swap) if not p.exists()]
    await asyncio.to_thread((staging / _ABSENT).write_text, "".join(f"{n}\n" for n in absent))
    await asyncio.to_thread(os.replace, staging, paths.pre_resize)


async def restore(paths: InstancePaths) -> None:
    """Put the pre-resize disks and spec back; the instance must be stopped."""
    await asyncio.to_thread(_restore, paths)


def _restore(paths: InstancePaths) -> None:
    kept = paths.pre_resize
    if not kept.is_dir():
        raise DriverError(f"instance {paths.root.name} has no resize to revert")
    for name in (kept / _ABSENT).read_text().split():
        (paths.root / Path(name).name).unlink(missing_ok=True)
    for original in (paths.disk, paths.spec):
        os.replace(kept / original.name, original)
    shutil.rmtree(kept)


async def drop(paths: InstancePaths) -> None:
    """Forget the pre-resize copy (confirm); nothing kept is fine."""
    await asyncio.to_thread(shutil.rmtree, paths.pre_resize, ignore_errors=True)

"""The config drive: the instance's metadata on an ISO9660 volume labelled ``config-2``.

For guests that cannot reach the metadata service (no DHCP, no route to
169.254.169.254). The files are those the service answers with, rendered by the same
code: ``openstack/<version>/{meta_data.json, network_data.json, vendor_data.json,
vendor_data2.json, user_data}`` and ``ec2/<version>/{meta-data.json, user-data}``, for
every version and ``latest``, as Nova lays them out. The QEMU driver calls
``build_config_drive`` when the instance asks for one. Built by ``xorriso`` (Debian
package ``xorriso``) in its ``mkisofs`` mode, with Rock Ridge and Joliet names.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from stratus.common.errors import StratusError, Unavailable
from stratus.compute.metadata import ec2_format, openstack_format
from stratus.compute.metadata.record import InstanceMetadata

VOLUME_LABEL = "config-2"
PUBLISHER = "Stratus"


def drive_files(record: InstanceMetadata, random_seed: str | None = None) -> dict[str, bytes]:
    """Every file of the drive by relative path; one random seed for the whole drive."""
    seed = random_seed or openstack_format.new_random_seed()
    found: dict[str, bytes] = {}
    for version in (*openstack_format.VERSIONS, openstack_format.LATEST):
        for name, body in openstack_format.files(record, version, seed).items():
            if name != "password":  # posted to the service, never on a drive
                found[f"openstack/{version}/{name}"] = body
    for version in (*ec2_format.VERSIONS, ec2_format.LATEST):
        root = ec2_format.version_root(record, version)
        tree = root.entries["meta-data"]
        assert isinstance(tree, ec2_format.Folder)
        found[f"ec2/{version}/meta-data.json"] = json.dumps(ec2_format.as_json(tree)).encode()
        user_data = root.entries.get("user-data")
        if isinstance(user_data, bytes):
            found[f"ec2/{version}/user-data"] = user_data
    return found


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


async def build_config_drive(record: InstanceMetadata, output: Path) -> None:
    """Write the instance's config drive to ``output`` (replaced atomically)."""
    xorriso = shutil.which("xorriso")
    if xorriso is None:
        raise Unavailable("metadata.config_drive.no_tool", "xorriso is not installed")
    with tempfile.TemporaryDirectory(prefix="configdrive-") as tmp:
        tree = Path(tmp) / "tree"
        await asyncio.to_thread(_write_tree, tree, drive_files(record))
        partial = output.with_name(f".{output.name}.partial")
        args = ["-as", "mkisofs", "-quiet", "-o", str(partial), "-V", VOLUME_LABEL,
                "-publisher", PUBLISHER, "-J", "-R", str(tree)]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            xorriso,
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            partial.unlink(missing_ok=True)
            raise StratusError(
                "metadata.config_drive.failed",
                f"xorriso exited {proc.returncode}: {err.decode(errors='replace')[-500:]}",
            )
        partial.replace(output)

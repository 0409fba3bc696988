"""The image record a snapshot (``createImage``) starts as, the way Nova makes it.

A snapshot inherits its source image's formats, minimums and properties (so the
scheduler's image filters and a later boot treat it like its source), minus what
describes the source file itself: client-side hashes (``owner_specified.*``), signatures
and Glance's internal keys. Then come the caller's metadata and Nova's own properties,
which nothing may override. The image belongs to the server's project, whoever asks.
"""

from __future__ import annotations

from collections.abc import Mapping

from stratus.common.context import RequestContext
from stratus.compute.api.images import ImageInfo
from stratus.compute.models import Instance

# Nova's libvirt driver writes qcow2 when the source format is unknown
DEFAULT_FORMATS = ("qcow2", "bare")
_NOT_INHERITED = ("owner_specified.", "img_signature", "os_glance", "cache_in_nova", "bittorrent")


def attributes(
    ctx: RequestContext,
    inst: Instance,
    name: str,
    metadata: Mapping[str, str],
    base: ImageInfo | None,
) -> dict[str, object]:
    """The body of ``POST /v2/images`` for a snapshot of ``inst`` from ``base``."""
    disk_format, container_format = DEFAULT_FORMATS
    body: dict[str, object] = {}
    if base is not None:
        disk_format = base.disk_format or disk_format
        container_format = base.container_format or container_format
        body |= {"min_ram": base.min_ram, "min_disk": base.min_disk}
        body |= {k: v for k, v in base.properties.items() if not k.startswith(_NOT_INHERITED)}
    body |= dict(metadata)
    body |= {
        "name": name,
        "disk_format": disk_format,
        "container_format": container_format,
        "instance_uuid": inst.id,
        "image_type": "snapshot",
        "base_image_ref": inst.image_ref,
        "owner_id": inst.project_id,
        "user_id": ctx.user_id or "",
    }
    if inst.project_id != ctx.project_id:  # an admin's snapshot of another project's server
        body["owner"] = inst.project_id
    return body

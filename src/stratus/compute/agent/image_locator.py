"""Where a build's image data is: asked of the image service (``image.locate``) for
drivers that need the bytes, so every build (a first one, a retry elsewhere, a rebuild,
an evacuation) can fetch its image without the user's token."""

from __future__ import annotations

import dataclasses

from stratus.common.errors import StratusError
from stratus.compute.agent.host import AgentHost
from stratus.compute.virt.driver import DriverError, ImageSpec, InstanceSpec
from stratus.image.rpc import IMAGE_TOPIC, ImageLocation, LocateImage


async def with_image_data(agent: AgentHost, spec: InstanceSpec) -> InstanceSpec:
    """``spec`` with its image's formats, size, checksum, properties and a download URL
    (unchanged if the driver needs no data or the URL is there already)."""
    if spec.image is None or spec.image.download_url or not agent.driver.capabilities.image_data:
        return spec
    found = await _locate(agent, spec.image.id, spec.project_id)
    related = {}
    for prop in ("kernel_id", "ramdisk_id"):  # images booted with a kernel and ramdisk
        other = found.properties.get(prop)
        if other:
            related[other] = (await _locate(agent, other, spec.project_id)).download_url
    image = ImageSpec(
        id=found.id, disk_format=found.disk_format, container_format=found.container_format,
        size=found.size, checksum=found.checksum, properties=dict(found.properties),
        download_url=found.download_url, related_urls=related,
    )  # fmt: skip
    return dataclasses.replace(spec, image=image)


async def _locate(agent: AgentHost, image_id: str, project_id: str) -> ImageLocation:
    try:
        return await agent.bus.call(IMAGE_TOPIC, LocateImage(image_id=image_id,
                                                             project_id=project_id))  # fmt: skip
    except StratusError as exc:
        raise DriverError(f"Image {image_id} could not be located: {exc}") from None

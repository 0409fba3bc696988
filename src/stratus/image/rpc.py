"""What other services ask of the image service (topic ``image``): where a server's image
is and how to fetch it (DESIGN §2: the build locates its image).

A compute agent holds no user token when it builds (a retry on another host, an
evacuation): the answer carries a download URL with a short-lived signed ticket
(``tickets.py``) for that one image, checked against the server's project.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel, Field

from stratus.common.rpc import Call

IMAGE_TOPIC = "image"


class ImageLocation(BaseModel):
    id: str
    status: str
    disk_format: str
    container_format: str
    size: int
    checksum: str | None
    properties: dict[str, str] = Field(default_factory=dict)
    download_url: str  # GET it as is: no token needed until ``expires_at``
    expires_at: dt.datetime


class LocateImage(Call[ImageLocation]):
    """An active image the project may see (else ``NotFound``, as for an unknown one)."""

    wire_name: ClassVar[str] = "image.locate"
    image_id: str
    project_id: str

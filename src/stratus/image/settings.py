"""Image service settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stratus.common.config import Section


class ImageSettings(Section):
    port: int = Field(default=9292, ge=1, le=65535, description="Port of the Glance v2 API.")
    database_url: str = Field(default="", description="Overrides [database].url for images.")
    default_store: Literal["file", "object"] = Field(
        default="file",
        description="Where new image data goes: 'file' (a directory) or 'object' (the "
        "Stratus object store, large images as segmented objects in a service account).",
    )
    file_store_dir: str = Field(
        default="", description="Directory of the file store. Default: <state_dir>/images."
    )
    staging_dir: str = Field(
        default="",
        description="Where glance-direct uploads wait to be imported. "
        "Default: <state_dir>/images-staging.",
    )
    object_store_auth_url: str = Field(
        default="",
        description="Swift v1 auth URL of the object store backend. Default: this cloud's "
        "proxy (http://<public_host>:<objectstore.proxy_port>/auth/v1.0).",
    )
    object_store_user: str = Field(
        default="service:service", description="'project:user' the object backend signs in as."
    )
    object_store_key: str = Field(
        default="",
        description="Password of object_store_user. Default: the service password "
        "bootstrap keeps in <state_dir>/secrets.json.",
    )
    object_store_container: str = Field(
        default="stratus-images", description="Container of the object store backend."
    )
    object_segment_bytes: int = Field(
        default=256 << 20, ge=1 << 20, description="Segment size of images in the object store."
    )
    max_image_size: int = Field(
        default=1 << 40, ge=1, description="Largest image accepted, in bytes (Glance: 1 TiB)."
    )
    ticket_secret: str = Field(
        default="",
        description="Key signing the download tickets compute agents get from image.locate "
        "(every image API process of a deployment needs the same one). Default: a random "
        "key per process, which is right for one image process.",
    )
    ticket_lifetime: int = Field(
        default=3600, ge=60, description="Seconds a download ticket stays valid."
    )
    quota_images: int = Field(
        default=100, ge=-1, description="Images a project may own (-1: unlimited)."
    )
    quota_image_bytes: int = Field(
        default=1 << 40, ge=-1, description="Bytes of image data a project may store (-1: any)."
    )

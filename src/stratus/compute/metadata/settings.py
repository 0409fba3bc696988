"""Metadata settings: ``[metadata]`` in the TOML file, ``STRATUS_METADATA__*`` in the
environment. The network agent's metadata proxy reads ``shared_secret`` too: it signs each
instance id it forwards, and this service accepts only what it signed."""

from __future__ import annotations

from pydantic import Field, model_validator

from stratus.common.config import Section


class MetadataSettings(Section):
    port: int = Field(default=8775, ge=0, le=65535, description="Port of the metadata API.")
    shared_secret: str = Field(
        default="",
        repr=False,
        description="Key of the HMAC-SHA256 the metadata proxy signs X-Instance-ID with. "
        "`stratus up` generates one (secrets.json); multi-node: set the same value on the "
        "metadata service and every network agent. Empty: every request is refused (403).",
    )
    url: str = Field(
        default="",
        description="Where network agents' metadata proxies forward guests' requests. "
        "Empty: http://127.0.0.1:<port> (this node's metadata service, on whatever port "
        "it was given).",
    )
    cache_ttl: float = Field(
        default=5.0,
        ge=0,
        description="Seconds an instance's record is reused before the conductor is asked "
        "again (a guest's boot reads dozens of paths in a burst).",
    )
    rpc_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to wait for the conductor's answer."
    )

    @model_validator(mode="after")
    def _local_service_by_default(self) -> MetadataSettings:
        if not self.url:
            self.url = f"http://127.0.0.1:{self.port}"
        return self

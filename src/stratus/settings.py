"""The whole configuration of a Stratus process: common sections plus one per service."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from stratus.common.config import (
    BASE_SETTINGS_CONFIG,
    BusSettings,
    DatabaseSettings,
    HttpSettings,
    default_host,
    load,
)
from stratus.compute.metadata.settings import MetadataSettings
from stratus.compute.settings import ComputeSettings
from stratus.identity.settings import IdentitySettings
from stratus.image.settings import ImageSettings
from stratus.network.agent.settings import NetworkAgentSettings
from stratus.network.settings import NetworkSettings
from stratus.objectstore.settings import PORT_FIELDS, ObjectStoreSettings
from stratus.registry.settings import RegistrySettings
from stratus.scheduler.settings import SchedulerSettings


def default_state_dir() -> Path:
    return Path.home() / ".local" / "share" / "stratus"


class Settings(BaseSettings):
    model_config = BASE_SETTINGS_CONFIG

    state_dir: Path = Field(
        default_factory=default_state_dir, description="Keys, SQLite files, data."
    )
    host: str = Field(default_factory=default_host, description="This node's name in the registry.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool = Field(default=False, description="Log one JSON object per line.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    objectstore: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    image: ImageSettings = Field(default_factory=ImageSettings)
    compute: ComputeSettings = Field(default_factory=ComputeSettings)
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    network_agent: NetworkAgentSettings = Field(default_factory=NetworkAgentSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)

    def http_port(self, service: str) -> int | None:
        """The configured port of a service's HTTP API (0: any free port), if it has one."""
        if service in PORT_FIELDS:
            return self.objectstore.port_of(service)
        if service == "compute-api":
            return self.compute.port
        port = getattr(getattr(self, service, None), "port", None)
        return port if isinstance(port, int) else None

    def objectstore_dirs(self) -> tuple[Path, Path]:
        """The object store's devices root and ring directory."""
        cfg = self.objectstore
        root = self.state_dir / "objectstore"
        return (
            Path(cfg.devices_root) if cfg.devices_root else root / "devices",
            Path(cfg.ring_dir) if cfg.ring_dir else root / "rings",
        )

    def database_url(self, service: str, override: str = "") -> str:
        """Where a service's tables live: its own URL, the shared one, or SQLite in state_dir."""
        if override:
            return override
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.state_dir / f'{service}.sqlite'}"


def load_settings(path: Path | None = None, **init: object) -> Settings:
    return load(Settings, path, **init)

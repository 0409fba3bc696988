"""Typed settings: one TOML file plus ``STRATUS_*`` environment overrides.

Each service declares its own settings model beside its code; ``stratus.settings``
composes them. Settings are passed in explicitly, never read from a global.
"""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from stratus.common.errors import InvalidInput


class ConfigError(InvalidInput):
    """The configuration file or environment is unusable."""


class Section(BaseModel):
    """Base of every settings section: unknown keys are a mistake worth reporting."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = Field(
        default="",
        description="SQLAlchemy async URL shared by every service unless it names its own; "
        "empty means one SQLite file per service in the state directory.",
    )
    pool_size: int = Field(default=10, ge=1, description="Connections per engine.")
    echo: bool = Field(default=False, description="Log every SQL statement.")


class BusSettings(Section):
    url: str = Field(
        default="memory://",
        description="memory:// for the in-process bus, or an amqp:// URL of RabbitMQ.",
    )
    exchange: str = Field(default="stratus", description="AMQP exchange name prefix.")
    call_timeout: float = Field(default=30.0, gt=0, description="Seconds an RPC call waits.")


class HttpSettings(Section):
    bind_host: str = Field(default="127.0.0.1", description="Address the APIs listen on.")
    public_host: str = Field(
        default="127.0.0.1", description="Host name or address put in catalog URLs."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest JSON request body accepted."
    )
    keep_alive_timeout: int = Field(
        default=75,
        gt=0,
        description="Seconds an idle keep-alive connection stays open. Keep it longer "
        "than clients' polling intervals (the openstack CLI's --wait polls every 5 s): a "
        "server closing just as a client reuses the connection fails that request.",
    )


S = TypeVar("S", bound=BaseSettings)


def load(model: type[S], path: Path | None, **init: Any) -> S:
    """Build ``model`` from ``path`` (TOML), then ``STRATUS_*`` env, then ``init``.

    A missing, unreadable or invalid file raises ``ConfigError`` with one line of text.
    """
    if path is not None:
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError("config.missing", f"config file {path} does not exist") from None
        except PermissionError:
            raise ConfigError("config.unreadable", f"config file {path} is not readable") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                "config.corrupt", f"config file {path} is not valid TOML: {exc}"
            ) from None

    class _WithFile(model):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            return tuple(sources)

    try:
        loaded = _WithFile(**init)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        origin = f"config file {path}" if path else "configuration"
        raise ConfigError("config.invalid", f"{origin}: {where}: {first['msg']}") from None
    return model.model_validate(loaded.model_dump())


def default_host() -> str:
    return socket.gethostname()


BASE_SETTINGS_CONFIG = SettingsConfigDict(
    env_prefix="STRATUS_", env_nested_delimiter="__", extra="forbid"
)

"""What every image handler reaches through ``req.service``: one object per process."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratus.common.asgi.routing import ApiRequest
from stratus.common.errors import InvalidInput

if TYPE_CHECKING:
    from stratus.common.db import Database
    from stratus.image.settings import ImageSettings
    from stratus.image.stores import Store


@dataclass
class ImageState:
    settings: ImageSettings
    db: Database
    stores: dict[str, Store]
    default_store: str
    staging_dir: Path
    ticket_secret: bytes = b""
    # imports and copies run after their 202; kept so that stop() can wait for them
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def store(self, name: str) -> Store:
        try:
            return self.stores[name]
        except KeyError:
            raise InvalidInput("image.store.unknown", f"Unknown store {name!r}") from None

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def state_of(req: ApiRequest) -> ImageState:
    st = req.service
    assert isinstance(st, ImageState)
    return st

"""What every compute API handler reaches through ``req.service``: one object per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.common.asgi.routing import ApiRequest

if TYPE_CHECKING:
    from stratus.common.db import Database
    from stratus.common.rpc import Bus
    from stratus.compute.api.images import ImageClient
    from stratus.compute.settings import ComputeSettings


@dataclass
class ComputeApiState:
    settings: ComputeSettings
    db: Database
    bus: Bus
    images: ImageClient


def state_of(req: ApiRequest) -> ComputeApiState:
    st = req.service
    assert isinstance(st, ComputeApiState)
    return st

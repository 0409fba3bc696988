"""What every identity handler reaches through ``req.service``: one object per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.common.asgi.routing import ApiRequest

if TYPE_CHECKING:
    from stratus.common.db import Database
    from stratus.common.rpc import Bus
    from stratus.identity.credential_crypto import CredentialCrypto
    from stratus.identity.passwords import PasswordHasher
    from stratus.identity.settings import IdentitySettings
    from stratus.identity.tokens import TokenProvider
    from stratus.identity.validation import TokenValidator


@dataclass
class IdentityState:
    settings: IdentitySettings
    db: Database
    passwords: PasswordHasher
    tokens: TokenProvider
    validator: TokenValidator
    credentials: CredentialCrypto
    bus: Bus | None

    def changed(self) -> None:
        """Call after any write that can change what a token grants (roles, users, projects)."""
        self.validator.invalidate()


def state_of(req: ApiRequest) -> IdentityState:
    st = req.service
    assert isinstance(st, IdentityState)
    return st


def base_url(req: ApiRequest) -> str:
    """The identity endpoint as the client reached it, for ``links``."""
    return str(req.raw.base_url).rstrip("/")

"""The identity service: wires the database, keys, token validation and the v3 routes."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from stratus.common.asgi.edge import EdgeMiddleware
from stratus.common.asgi.routing import build_router
from stratus.common.db import Database, MigrationSet
from stratus.common.rpc import Server
from stratus.common.service import CatalogEntry, HttpApi, Runtime
from stratus.identity.credential_crypto import CredentialCrypto
from stratus.identity.faults import keystone_fault
from stratus.identity.keys import KeyRepository
from stratus.identity.migrations import MIGRATIONS
from stratus.identity.passwords import PasswordHasher
from stratus.identity.rpc import IDENTITY_TOPIC
from stratus.identity.state import IdentityState
from stratus.identity.tokens import TokenProvider
from stratus.identity.validation import TokenValidator

log = logging.getLogger(__name__)


class IdentityService:
    name = "identity"
    catalog: tuple[CatalogEntry, ...] = (
        CatalogEntry(type="identity", name="keystone", path="/v3"),
    )

    def __init__(self) -> None:
        self.state: IdentityState | None = None
        self._rpc: Server | None = None

    def migrations(self) -> tuple[MigrationSet, ...]:
        return (MIGRATIONS,)

    async def start(self, runtime: Runtime) -> HttpApi:
        s = runtime.settings
        cfg = s.identity
        db = Database(s.database_url("identity", cfg.database_url), pool_size=s.database.pool_size)
        await db.check()
        token_keys = KeyRepository(
            Path(cfg.key_repository or s.state_dir / "keys" / "token"), cfg.max_active_keys
        )
        cred_keys = KeyRepository(
            Path(cfg.credential_key_repository or s.state_dir / "keys" / "credential"),
            cfg.max_active_keys,
        )
        tokens = TokenProvider(token_keys.load_or_create(), cfg.token_expiration)
        validator = TokenValidator(db, tokens, cache_ttl=cfg.validation_cache_ttl)
        self.state = IdentityState(
            settings=cfg,
            db=db,
            passwords=PasswordHasher(cfg.password_hash_memory_kib, cfg.password_hash_iterations),
            tokens=tokens,
            validator=validator,
            credentials=CredentialCrypto(cred_keys.load_or_create()),
            bus=runtime.bus,
        )
        await validator.start(runtime.bus, host=runtime.host)
        from stratus.identity.api import all_routes  # noqa: PLC0415 - routes import the state types
        from stratus.identity.rpc_server import identity_dispatcher  # noqa: PLC0415 - likewise

        # Other services authenticate their callers through this (identity/client.py).
        self._rpc = await runtime.bus.serve(
            IDENTITY_TOPIC, identity_dispatcher(self.state), host=runtime.host
        )

        router = build_router(
            all_routes(),
            authenticate=validator.authenticate,
            max_body=s.http.max_body_bytes,
            service=self.state,
        )
        auth_uri = f"http://{s.http.public_host}:{cfg.port}/v3"
        render = functools.partial(keystone_fault, auth_uri=auth_uri)
        return HttpApi(EdgeMiddleware(router, render=render), cfg.port)

    async def stop(self) -> None:
        if self._rpc is not None:
            await self._rpc.stop()
            self._rpc = None
        if self.state is not None:
            await self.state.validator.stop()
            await self.state.db.close()
            self.state = None

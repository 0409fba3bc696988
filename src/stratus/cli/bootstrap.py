"""``stratus bootstrap``: the first records of a multi-node cloud (``keystone-manage bootstrap``).

``stratus up`` bootstraps itself; a multi-node cloud has no such single process, so an
operator runs this once after ``stratus db upgrade``, on a node that shares the key
directories and the state directory the identity nodes use. It creates the token and
credential keys if missing, the default domain, the admin and demo projects and users, the
roles, the demo EC2 credential and the catalog endpoints of the URLs it is given, then
writes clouds.yaml, aws.env and swift.env into the state directory.

Running it again changes nothing but the URLs given, so it is safe in deployment scripts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from stratus import services
from stratus.cli.client_files import Endpoints, write_all
from stratus.cli.serve import check_migrated
from stratus.cli.up import prepare_state_dir
from stratus.common import rpc
from stratus.common.db import Database
from stratus.common.errors import Conflict, InvalidInput
from stratus.common.service import CatalogEntry
from stratus.identity import models as m
from stratus.identity.bootstrap import DEFAULT_DOMAIN_ID, Secrets, bootstrap, sync_catalog
from stratus.identity.credential_crypto import CredentialCrypto
from stratus.identity.keys import KeyRepository
from stratus.identity.passwords import PasswordHasher
from stratus.identity.rpc import REVOCATION_TOPIC, TokensRevoked
from stratus.network.bootstrap import ensure_public_network
from stratus.settings import Settings

log = logging.getLogger(__name__)

IDENTITY = "identity"
NOTIFY_TIMEOUT = 5.0  # seconds to reach the broker; bootstrap must not hang on it
DEFAULT_PORTS = {"http": 80, "https": 443}

Catalog = dict[str, tuple[CatalogEntry, str]]


async def run(settings: Settings, public_urls: Sequence[str], console: Console) -> None:
    """Check the tables, make keys and records, write the client files, tell running nodes."""
    urls = public_urls_of(settings, public_urls)
    catalog = catalog_of(urls)
    await check_migrated(settings, (IDENTITY,))
    prepare_state_dir(settings.state_dir)
    crypto = CredentialCrypto(ensure_keys(settings))
    db = Database(settings.database_url(IDENTITY, settings.identity.database_url))
    try:
        sec = await _seed(db, settings, crypto, catalog)
    finally:
        await db.close()
    await _public_network(settings, console)
    write_all(settings.state_dir, endpoints_of(urls[IDENTITY]), sec, settings.identity.region)
    notified = await _notify_identity_nodes(settings)
    _announce(console, settings, urls, notified)


async def _public_network(settings: Settings, console: Console) -> None:
    """The external network ``public``, when the network tables are there to hold it."""
    identity = Database(settings.database_url(IDENTITY, settings.identity.database_url))
    try:
        async with identity.session() as session:
            admin = await session.scalar(
                sa.select(m.Project.id).filter_by(name="admin", domain_id=DEFAULT_DOMAIN_ID)
            )
    finally:
        await identity.close()
    url = settings.database_url("network", settings.network.database_url)
    sqlite_file = url.partition(":///")[2] if url.startswith("sqlite") else ""
    try:
        exists = await asyncio.to_thread(Path(sqlite_file).exists) if sqlite_file else True
        if not exists:  # checking would leave an empty SQLite file behind
            raise InvalidInput("db.not_migrated", "no network database")
        await check_migrated(settings, ("network",))
    except InvalidInput:
        console.print("  network tables not migrated: external network 'public' not created")
        return
    db = Database(url)
    try:
        if admin is not None:
            await ensure_public_network(db, settings.network, admin)
    finally:
        await db.close()


def public_urls_of(settings: Settings, given: Sequence[str]) -> dict[str, str]:
    """Base URL per service: identity's default from the settings, then ``SERVICE=URL``s.

    Identity is always listed: clients need it to find everything else.
    """
    urls = {IDENTITY: f"http://{settings.http.public_host}:{settings.identity.port}"}
    for value in given:
        name, sep, url = value.partition("=")
        if not sep or not name:
            raise InvalidInput(
                "bootstrap.public_url.invalid", f"--public-url {value!r}: expected SERVICE=URL"
            )
        if not services.create(name).catalog:
            raise InvalidInput(
                "bootstrap.public_url.invalid",
                f"--public-url {value!r}: service {name} has no HTTP API to list in the catalog",
            )
        urls[name] = _base_url(value, url)
    return urls


def _base_url(value: str, url: str) -> str:
    """``scheme://host[:port]`` of ``url``: each catalog entry appends its own path."""
    parts = urlsplit(url)
    if not _is_base_url(parts):
        raise InvalidInput(
            "bootstrap.public_url.invalid",
            f"--public-url {value!r}: expected an http(s)://HOST[:PORT] URL without a path",
        )
    return f"{parts.scheme}://{parts.netloc}"


def _is_base_url(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - reading the port is what validates it
    except ValueError:
        return False
    return (
        parts.scheme in DEFAULT_PORTS
        and bool(parts.hostname)
        and parts.username is None
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment)
    )


def catalog_of(urls: dict[str, str]) -> Catalog:
    return {
        entry.type: (entry, base)
        for name, base in urls.items()
        for entry in services.create(name).catalog
    }


def endpoints_of(identity_url: str) -> Endpoints:
    """The client files' endpoints, all on the host of the identity URL clients start from."""
    parts = urlsplit(identity_url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address needs its brackets back inside a URL
        host = f"[{host}]"
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    return Endpoints(public_host=host, identity_port=port, scheme=parts.scheme)


def key_repositories(settings: Settings) -> tuple[KeyRepository, KeyRepository]:
    """The token and credential key directories, where the identity service looks for them."""
    cfg = settings.identity
    keys = settings.state_dir / "keys"
    return (
        KeyRepository(Path(cfg.key_repository or keys / "token"), cfg.max_active_keys),
        KeyRepository(
            Path(cfg.credential_key_repository or keys / "credential"), cfg.max_active_keys
        ),
    )


def ensure_keys(settings: Settings) -> list[bytes]:
    """Create both key sets if missing; return the credential keys (to encrypt EC2 secrets)."""
    token_keys, credential_keys = key_repositories(settings)
    _load_or_create(token_keys)
    return _load_or_create(credential_keys)


def _load_or_create(repo: KeyRepository) -> list[bytes]:
    try:
        return repo.load_or_create()
    except OSError as exc:
        raise InvalidInput(
            "identity.keys.unwritable", f"cannot create keys in {repo.path}: {exc.strerror}"
        ) from None


async def _seed(
    db: Database, settings: Settings, crypto: CredentialCrypto, catalog: Catalog
) -> Secrets:
    """Add the missing records and set the given endpoints, in one transaction."""
    cfg = settings.identity
    secrets_path = settings.state_dir / "secrets.json"
    hasher = PasswordHasher(cfg.password_hash_memory_kib, cfg.password_hash_iterations)
    async with db.session() as session:
        if not secrets_path.exists() and await _admin_exists(session):
            raise Conflict(
                "bootstrap.secrets.missing",
                f"this cloud was bootstrapped with other secrets: copy secrets.json from "
                f"that node's state directory to {secrets_path} and run again",
            )
        sec = Secrets.load_or_create(secrets_path)
        await bootstrap(session, sec, hasher, crypto, cfg.region)
        await sync_catalog(session, catalog, cfg.region, prune=False)
    return sec


async def _admin_exists(session: AsyncSession) -> bool:
    """Whether a bootstrap already ran: fresh secrets would then not match the passwords."""
    found = await session.execute(
        sa.select(m.User.id).filter_by(name="admin", domain_id=DEFAULT_DOMAIN_ID).limit(1)
    )
    return found.first() is not None


async def _notify_identity_nodes(settings: Settings) -> bool:
    """Make running identity nodes drop their cached catalog, which bootstrap may have changed.

    Best effort: on a first bootstrap no node runs yet, and a node that misses this sees the
    new endpoints after its next restart or identity write.
    """
    if settings.bus.url.startswith("memory:"):
        return False
    try:
        bus = await rpc.connect(
            settings.bus.url, exchange=settings.bus.exchange, call_timeout=NOTIFY_TIMEOUT
        )
        async with bus:
            await bus.fanout(REVOCATION_TOPIC, TokensRevoked(origin="stratus-bootstrap"))
    except Exception as exc:
        log.warning("could not tell running identity nodes about the new catalog: %s", exc)
        return False
    return True


def _announce(console: Console, settings: Settings, urls: dict[str, str], notified: bool) -> None:
    console.print(
        f"bootstrapped region {settings.identity.region}; client files in {settings.state_dir}"
    )
    for name, base in urls.items():
        console.print(f"  {name:<10} {base}")
    if notified:
        console.print("  running identity nodes told to reload the catalog")
    console.print(f"  export OS_CLIENT_CONFIG_FILE={settings.state_dir / 'clouds.yaml'}")

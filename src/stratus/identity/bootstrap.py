"""First-run records of a cloud: domain, projects, users, roles, catalog, EC2 keys.

Besides ``admin`` and ``demo`` there is the ``service`` project with the ``service``
user (member): the account services keep their own data in, such as the image store's
objects, reached with ordinary credentials as any client would.

Idempotent: a record that exists is left as it is, so a second run keeps every change a
user made and never rotates a password. Generated secrets live in a 0600 file in the
state directory, which is how ``stratus up`` can rewrite the client files on every start.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.service import CatalogEntry
from stratus.identity import models as m
from stratus.identity.credential_crypto import CredentialCrypto
from stratus.identity.passwords import PasswordHasher

DEFAULT_DOMAIN_ID = "default"
ROLE_NAMES = ("admin", "member", "reader")
SERVICE_PROJECT = "service"  # and its user of the same name
INTERFACES = ("public", "internal", "admin")
MANAGED = "stratus_managed"


@dataclass(frozen=True)
class Secrets:
    admin_password: str
    demo_password: str
    demo_ec2_access: str
    demo_ec2_secret: str
    service_password: str
    # key of the metadata proxy's instance-id signatures ([metadata] shared_secret)
    metadata_shared_secret: str

    @classmethod
    def load_or_create(cls, path: Path) -> Secrets:
        """The saved secrets; any missing (a file from an older release) are generated
        and saved, never those already there."""
        saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        fresh = {
            "admin_password": secrets.token_urlsafe(18),
            "demo_password": secrets.token_urlsafe(18),
            "demo_ec2_access": secrets.token_hex(16),
            "demo_ec2_secret": secrets.token_hex(20),
            "service_password": secrets.token_urlsafe(18),
            "metadata_shared_secret": secrets.token_hex(32),
        }
        made = cls(**{**fresh, **saved})
        if set(saved) != set(fresh):
            write_private(path, json.dumps(made.__dict__, indent=2) + "\n")
        return made


def write_private(path: Path, text: str) -> None:
    """Write a secrets file atomically, readable only by its owner."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


T = TypeVar("T", bound=m.Base)


async def _find(session: AsyncSession, model: type[T], where: dict[str, object]) -> T | None:
    return (await session.execute(sa.select(model).filter_by(**where))).scalars().first()


async def _get_or_add(
    session: AsyncSession, model: type[T], where: dict[str, object], **values: object
) -> T:
    found = await _find(session, model, where)
    if found is not None:
        return found
    row = model(**where, **values)
    session.add(row)
    await session.flush()
    return row


async def bootstrap(
    session: AsyncSession,
    sec: Secrets,
    hasher: PasswordHasher,
    crypto: CredentialCrypto,
    region: str,
) -> None:
    await _get_or_add(
        session,
        m.Domain,
        {"id": DEFAULT_DOMAIN_ID},
        name="Default",
        description="The default domain",
    )
    await _get_or_add(session, m.Region, {"id": region}, description="")
    roles = {
        name: await _get_or_add(session, m.Role, {"name": name, "domain_key": m.GLOBAL_DOMAIN_KEY})
        for name in ROLE_NAMES
    }
    for project, password, role in (
        ("admin", sec.admin_password, "admin"),
        ("demo", sec.demo_password, "member"),
        (SERVICE_PROJECT, sec.service_password, "member"),
    ):
        proj = await _get_or_add(
            session,
            m.Project,
            {"name": project, "domain_id": DEFAULT_DOMAIN_ID},
            description=f"Bootstrap project {project}",
        )
        where: dict[str, object] = {"name": project, "domain_id": DEFAULT_DOMAIN_ID}
        user = await _find(session, m.User, where) or await _get_or_add(
            session,
            m.User,
            where,
            password_hash=await hasher.hash(password),
            default_project_id=proj.id,
        )
        await _get_or_add(
            session,
            m.Assignment,
            {
                "type": "UserProject",
                "actor_id": user.id,
                "target_id": proj.id,
                "role_id": roles[role].id,
                "inherited": False,
            },
        )
        if project == "demo":
            await _ensure_ec2(session, user.id, proj.id, sec, crypto)


async def _ensure_ec2(
    session: AsyncSession, user_id: str, project_id: str, sec: Secrets, crypto: CredentialCrypto
) -> None:
    cred_id = hashlib.sha256(sec.demo_ec2_access.encode()).hexdigest()
    if await session.get(m.Credential, cred_id) is not None:
        return
    blob = json.dumps(
        {"access": sec.demo_ec2_access, "secret": sec.demo_ec2_secret, "trust_id": None}
    )
    session.add(
        m.Credential(
            id=cred_id,
            user_id=user_id,
            project_id=project_id,
            type="ec2",
            encrypted_blob=crypto.encrypt(blob),
            access_key=sec.demo_ec2_access,
        )
    )


async def sync_catalog(
    session: AsyncSession,
    urls: dict[str, tuple[CatalogEntry, str]],
    region: str,
    *,
    prune: bool = True,
) -> None:
    """Make the catalog list exactly the Stratus services that run, at their current URLs.

    ``urls`` maps a catalog type to its entry and base URL. Entries created by hand (not
    marked as managed) are never touched. ``prune=False`` keeps managed entries missing
    from ``urls``: ``stratus bootstrap`` sets the URLs it is given on a multi-node cloud,
    where it cannot know every service that runs elsewhere.
    """
    managed = (await session.execute(sa.select(m.CatalogService))).scalars().all()
    managed_by_type = {s.type: s for s in managed if s.extra.get(MANAGED)}
    for svc_type, stale in managed_by_type.items():
        if prune and svc_type not in urls:
            await session.delete(stale)
    for svc_type, (entry, base) in urls.items():
        svc = managed_by_type.get(svc_type)
        if svc is None:
            svc = m.CatalogService(type=svc_type, name=entry.name, extra={MANAGED: True})
            session.add(svc)
            await session.flush()
        existing = (
            (await session.execute(sa.select(m.Endpoint).filter_by(service_id=svc.id)))
            .scalars()
            .all()
        )
        by_interface = {e.interface: e for e in existing}
        for interface in INTERFACES:
            url = base + entry.path
            ep = by_interface.get(interface)
            if ep is None:
                session.add(
                    m.Endpoint(service_id=svc.id, interface=interface, region_id=region, url=url)
                )
            elif ep.url != url:
                ep.url = url

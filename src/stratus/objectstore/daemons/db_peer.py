"""The sync protocol's other end over HTTP: a remote container or account server.

Each op of ``merge.py`` is one ``POST /<device>/<partition>/<hash>`` with
``X-Backend-Replicate: true`` and the op as JSON; the server answers with its
``InfoReply``. A 404 means the remote has no such database yet (``replicate`` then
creates it); any other failure raises ``PeerFailed`` and the pass moves on to the next
peer, since the next pass resumes from the peer's sync point anyway.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from pydantic import ValidationError

from stratus.objectstore.dbs.errors import DbNotFound
from stratus.objectstore.dbs.merge import CreateOp, InfoOp, InfoReply, MergeItemsOp, SyncOp
from stratus.objectstore.ring.devices import Device


class PeerFailed(Exception):
    """The peer could not take an op: unreachable, an error status, or a bad answer."""


class HttpPeer:
    """One database (by name hash) on one remote device."""

    def __init__(
        self, client: httpx.AsyncClient, dev: Device, partition: int, name_hash: str
    ) -> None:
        host = f"[{dev.ip}]" if ":" in dev.ip else dev.ip
        self.url = f"http://{host}:{dev.port}/{quote(dev.device, safe='')}/{partition}/{name_hash}"
        self.client = client
        self.name_hash = name_hash

    async def send(self, op: InfoOp | CreateOp | SyncOp | MergeItemsOp) -> InfoReply:
        try:
            response = await self.client.post(
                self.url,
                content=op.model_dump_json().encode(),
                headers={"X-Backend-Replicate": "true", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise PeerFailed(f"{self.url}: {exc!r}") from exc
        if response.status_code == 404:
            raise DbNotFound(self.name_hash)
        if not 200 <= response.status_code < 300:
            raise PeerFailed(f"{self.url}: {response.status_code} {response.text.strip()}")
        try:
            return InfoReply.model_validate_json(response.content)
        except ValidationError as exc:
            raise PeerFailed(f"{self.url}: unreadable reply") from exc

"""FormPOST: a browser uploads files straight into a container with an HTML form that
the account's owner signed, without ever holding a token.

The form POSTs ``multipart/form-data`` to ``/v1/<account>/<container>[/<prefix>]``
with fields ``redirect``, ``max_file_size``, ``max_file_count``, ``expires`` and
``signature``: an HMAC of ``<path>\\n<redirect>\\n<max_file_size>\\n<max_file_count>\\n
<expires>`` made with a TempURL key (``signatures.py``); optionally ``x_delete_at`` or
``x_delete_after``. Those fields come before the files; each file becomes the object
``<prefix><filename>``, uploaded as the account's owner while it streams in. A file
over ``max_file_size`` is abandoned and not stored. The outcome goes back as a 303 to
``redirect`` with ``status`` and ``message`` in its query, or as a plain-text answer
with that status when there is no redirect.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.common.asgi.faults import title
from stratus.common.errors import StratusError
from stratus.objectstore.middleware.multipart import MultipartReader, Part, boundary_of
from stratus.objectstore.middleware.signatures import (
    ALLOWED_DIGESTS,
    DEPRECATED_DIGESTS,
    Signature,
    owner_of,
    signing_keys,
)
from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import ClientDisconnected, status_of
from stratus.objectstore.proxy.responses import RawResponse
from stratus.objectstore.proxy.subrequest import subrequest
from stratus.objectstore.proxy.swift_scope import RequestView

MAX_FIELD = 4096  # bytes of one plain field
MAX_FIELDS = 64
SIGNED_FIELDS = ("redirect", "max_file_size", "max_file_count", "expires")


class FormFailure(Exception):
    """How the form went: reported to the browser, never raised past this module."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TooBig(Exception):
    """A file went over ``max_file_size`` while it streamed."""


@dataclass(frozen=True, slots=True)
class FormRules:
    """The signed fields, checked: what the form's owner allowed."""

    redirect: str
    max_file_size: int
    max_file_count: int
    delete_headers: dict[str, str]

    @classmethod
    async def check(cls, cluster: Cluster, view: RequestView, fields: dict[str, str]) -> FormRules:
        try:
            size, count = int(fields["max_file_size"]), int(fields["max_file_count"])
            expires = int(fields["expires"])
        except (KeyError, ValueError):
            raise FormFailure(400, "invalid or missing form attributes") from None
        if expires < time.time():
            raise FormFailure(401, "form expired")
        if owner_of(view.account) is None:
            raise FormFailure(401, "invalid signature")
        signature = Signature.parse(fields.get("signature", ""))
        message = "\n".join([view.path, *(fields.get(name, "") for name in SIGNED_FIELDS)])
        keys = await signing_keys(cluster, view.account, view.container)
        if signature is None or not signature.made_by(keys, message):
            raise FormFailure(401, "invalid signature")
        deletes = {
            f"X-Delete-{which}": fields[f"x_delete_{which.lower()}"]
            for which in ("At", "After")
            if fields.get(f"x_delete_{which.lower()}")
        }
        return cls(fields.get("redirect", ""), size, count, deletes)


class FormPost:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster
        cluster.capabilities["formpost"] = {
            "allowed_digests": list(ALLOWED_DIGESTS),
            "deprecated_digests": list(DEPRECATED_DIGESTS),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = _form_view(scope)
        if view is None:
            await self.app(scope, receive, send)
            return
        boundary = boundary_of(view.headers["content-type"])
        assert boundary is not None  # _form_view made sure
        body = _body(scope, receive, self.cluster.config.client_timeout)
        fields: dict[str, str] = {}
        try:
            stored = await self.upload(scope, view, MultipartReader(body, boundary), fields)
            outcome = FormFailure(201, "") if stored else FormFailure(400, "no files to process")
        except FormFailure as failure:
            outcome = failure
        except StratusError as exc:
            outcome = FormFailure(status_of(exc), exc.message)
        await _answer(outcome, fields.get("redirect", ""))(scope, receive, send)

    async def upload(
        self, scope: Scope, view: RequestView, reader: MultipartReader, fields: dict[str, str]
    ) -> int:
        """Store each file as it comes; the number stored."""
        rules: FormRules | None = None
        stored = 0
        while (part := await reader.next_part()) is not None:
            if part.filename is None:
                if len(fields) >= MAX_FIELDS:
                    raise FormFailure(400, "too many form fields")
                value = await reader.read(MAX_FIELD)
                fields[part.name] = value.decode("utf-8", "replace")
                continue
            if not part.filename:
                continue  # an empty file input
            rules = rules or await FormRules.check(self.cluster, view, fields)
            if stored >= rules.max_file_count:
                raise FormFailure(400, "max file count exceeded")
            await self.store(scope, view, rules, part, reader)
            stored += 1
        return stored

    async def store(
        self, scope: Scope, view: RequestView, rules: FormRules, part: Part, reader: MultipartReader
    ) -> None:
        prefix = view.obj or ""
        path = f"/v1/{view.account}/{view.container}/{prefix}{part.filename}"
        headers = {
            "Content-Type": part.content_type,
            "Transfer-Encoding": "chunked",
            **rules.delete_headers,
        }
        body = _limited(reader.chunks(), rules.max_file_size)
        try:
            sub = await subrequest(
                self.app,
                scope,
                "PUT",
                path,
                source="formpost",
                headers=headers,
                body=body,
                caller=owner_of(view.account),
            )
        except TooBig:  # the PUT was abandoned: its replicas discard what they had
            raise FormFailure(400, "max_file_size exceeded") from None
        async with sub:
            if sub.status == 413:
                raise FormFailure(400, "max_file_size exceeded")
            if not sub.ok:
                text = (await sub.read(4096)).decode("utf-8", "replace").strip()
                raise FormFailure(sub.status, text or title(sub.status))


def _form_view(scope: Scope) -> RequestView | None:
    """A browser's form upload to a container (or a prefix in it), else ``None``."""
    if scope["type"] != "http" or scope["method"] != "POST" or swift_scope.is_internal(scope):
        return None
    view = RequestView.of(scope)
    if view is None or view.container is None:
        return None
    return view if boundary_of(view.headers.get("content-type", "")) else None


async def _body(scope: Scope, receive: Receive, timeout: float) -> AsyncIterator[bytes]:  # noqa: ASYNC109
    """The request body as it arrives; a client that stalls or leaves ends the form."""
    while True:
        try:
            async with asyncio.timeout(timeout):
                message = await receive()
        except TimeoutError:
            raise ClientDisconnected(timed_out=True) from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnected(timed_out=False)
        if message.get("body"):
            yield message["body"]
        if not message.get("more_body", False):
            return


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooBig
        yield chunk


def _answer(outcome: FormFailure, redirect: str) -> RawResponse:
    """A 303 to the form's ``redirect`` with the outcome in its query, or the outcome."""
    if redirect:
        query = urlencode({"status": outcome.status, "message": outcome.message})
        location = f"{redirect}{'&' if '?' in redirect else '?'}{query}"
        page = f'<html><body><p><a href="{html.escape(location)}">Continue</a></p></body></html>'
        headers = [(b"location", location.encode()), (b"content-type", b"text/html")]
        return RawResponse(303, headers, page.encode())
    text = f"{outcome.status} {title(outcome.status)}"
    if outcome.message:
        text += f"\r\nFormPost: {outcome.message}"
    return RawResponse(outcome.status, [(b"content-type", b"text/plain")], text.encode())

"""Swift's bulk operations: many deletes in one request, or a tar archive unpacked into
objects (``bulk_extract.py``).

``POST`` (or ``DELETE``) ``?bulk-delete`` carries up to ``MAX_DELETES`` URL-encoded
``/container[/object]`` lines. Objects are deleted a few at a time, then the
containers, in the order given (so a list may empty a container and then remove it).
Each delete is an ordinary subrequest as the caller, so it is authorised as a DELETE
of its own would be. The answer is the bulk report (``bulk_report.py``): counts and
the names that failed with their status.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.common.asgi.faults import title
from stratus.objectstore.middleware import bulk_extract, bulk_report
from stratus.objectstore.middleware.large_objects import gather_bounded, read_body
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import TooLarge, bad_request
from stratus.objectstore.proxy.subrequest import subrequest
from stratus.objectstore.proxy.swift_scope import RequestView

SOURCE = "bulk"
MAX_DELETES = 10_000
MAX_FAILED_DELETES = 1_000  # announced as Swift does; every delete is still attempted
MAX_PATH = 1024 + 256 + 2  # object and container name limits, two slashes
DELETE_CONCURRENCY = 4


class Bulk:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster
        cluster.capabilities["bulk_delete"] = {
            "max_deletes_per_request": MAX_DELETES,
            "max_failed_deletes": MAX_FAILED_DELETES,
        }
        cluster.capabilities["bulk_upload"] = {
            "max_containers_per_extraction": bulk_extract.MAX_CONTAINERS,
            "max_failed_extractions": bulk_extract.MAX_FAILURES,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = RequestView.of(scope)
        if view is None:
            await self.app(scope, receive, send)
        elif view.method in ("POST", "DELETE") and "bulk-delete" in view.query:
            await self.bulk_delete(scope, receive, send, view)
        elif view.method == "PUT" and "extract-archive" in view.query:
            extract = bulk_extract.Extraction(self.app, self.cluster, scope, view)
            counts, errors = await extract.run(receive)
            await send_report(send, view, counts, errors, "extract")
        else:
            await self.app(scope, receive, send)

    async def bulk_delete(
        self, scope: Scope, receive: Receive, send: Send, view: RequestView
    ) -> None:
        body = await read_body(receive, MAX_DELETES * (MAX_PATH * 3 + 1), "Bulk delete body")
        names = _names(body)
        objects = [n for n in names if "/" in n.strip("/")]
        containers = [n for n in names if "/" not in n.strip("/")]

        async def delete(name: str) -> int:
            path = f"/v1/{view.account}/{name.strip('/')}"
            async with await subrequest(self.app, scope, "DELETE", path, source=SOURCE) as sub:
                return sub.status

        statuses = await gather_bounded((delete(n) for n in objects), DELETE_CONCURRENCY)
        statuses += [await delete(n) for n in containers]
        counts, errors = tally([*objects, *containers], statuses)
        await send_report(send, view, counts, errors, "delete")


def _names(body: bytes) -> list[str]:
    try:
        lines = body.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise bad_request("Invalid UTF-8 in the list of names") from None
    names = [unquote(line.strip()) for line in lines if line.strip()]
    if len(names) > MAX_DELETES:
        raise TooLarge(f"Maximum Bulk Deletes: {MAX_DELETES} per request")
    for name in names:
        if len(name.encode()) > MAX_PATH or not name.strip("/"):
            raise bad_request(f"Invalid bulk delete name: {name[:64]}")
    return names


def tally(names: list[str], statuses: list[int]) -> tuple[dict[str, object], bulk_report.Errors]:
    deleted = not_found = 0
    errors: bulk_report.Errors = []
    for name, status in zip(names, statuses, strict=True):
        if 200 <= status < 300:
            deleted += 1
        elif status == 404:
            not_found += 1
        else:
            errors.append(
                (name if name.startswith("/") else f"/{name}", f"{status} {title(status)}")
            )
    return {"Number Deleted": deleted, "Number Not Found": not_found}, errors


def response_status(errors: bulk_report.Errors) -> str:
    """The report's ``Response Status``: 401/403 if those are why, else 400, or 200."""
    if not errors:
        return "200 OK"
    for wanted in ("401", "403"):
        if all(problem.startswith(wanted) for _, problem in errors):
            return f"{wanted} {title(int(wanted))}"
    return "400 Bad Request"


async def send_report(
    send: Send, view: RequestView, counts: dict[str, object], errors: bulk_report.Errors, root: str
) -> None:
    content_type = bulk_report.report_type(view.headers.get("accept"))
    full = {**counts, "Response Body": "", "Response Status": response_status(errors)}
    body = bulk_report.render(content_type, full, errors, root)
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

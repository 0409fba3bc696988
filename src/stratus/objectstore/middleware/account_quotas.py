"""Account quotas, Swift's ``account_quotas``: ``X-Account-Meta-Quota-Bytes`` (and
``-Quota-Count``) cap what a whole account may hold.

Unlike a container quota this is the operator's limit on a project, so only an
administrator may set or remove it (Swift's reseller admin; here a caller with the
``admin`` role); anyone else trying gets 403. Object writes past it are refused with
413 "Upload exceeds quota."; deletes and metadata updates are always allowed, so an
account over its quota can be cleaned up. The account's usage is what the account
servers last heard from its containers, a fraction of a second behind.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.objectstore.middleware.resource_info import head_headers, int_header, is_number
from stratus.objectstore.middleware.upload_room import OVER_QUOTA, bounded, over, upload_of
from stratus.objectstore.proxy import swift_scope
from stratus.objectstore.proxy.cluster import Cluster
from stratus.objectstore.proxy.errors import TooLarge, bad_request, forbidden
from stratus.objectstore.proxy.info import account_info
from stratus.objectstore.proxy.swift_scope import RequestView

SOURCE = "account_quotas"
QUOTA_BYTES = "x-account-meta-quota-bytes"
QUOTA_COUNT = "x-account-meta-quota-count"
_SETTINGS = (QUOTA_BYTES, QUOTA_COUNT)
_REMOVALS = tuple(f"x-remove-{name[len('x-') :]}" for name in _SETTINGS)


class AccountQuotas:
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster
        cluster.capabilities["account_quotas"] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = RequestView.of(scope)
        if view is not None:
            if view.container is None and view.method in ("PUT", "POST"):
                _check_settings(scope, view.headers)
            elif view.obj is not None and view.method in ("PUT", "COPY"):
                receive = await self._check_upload(view, scope, receive)
        await self.app(scope, receive, send)

    async def _check_upload(self, view: RequestView, scope: Scope, receive: Receive) -> Receive:
        # Whether a quota is set at all comes from the proxy's info cache (a change made
        # through another proxy shows within its ttl, as Swift's memcache'd info does);
        # only an account with a quota pays for a fresh HEAD of its usage.
        cached = await account_info(self.cluster, view.account)
        if cached.exists and not any(cached.get(name) for name in _SETTINGS):
            return receive
        upload = await upload_of(self.app, scope, view, SOURCE)
        if upload is None:
            return receive
        account = await head_headers(self.app, scope, f"/v1/{view.account}", source=SOURCE)
        count = int_header(account, "x-account-object-count")
        if over(count, int_header(account, QUOTA_COUNT), 1):
            raise TooLarge(OVER_QUOTA)
        used = int_header(account, "x-account-bytes-used")
        quota = int_header(account, QUOTA_BYTES)
        if over(used, quota, upload.length or 0):
            raise TooLarge(OVER_QUOTA)
        if upload.length is None and quota is not None and used is not None:
            return bounded(receive, quota - used)
        return receive


def _check_settings(scope: Scope, headers: dict[str, str]) -> None:
    """Only an administrator may set or remove the quotas, and only to whole numbers."""
    if not any(name in headers for name in (*_SETTINGS, *_REMOVALS)):
        return
    caller = swift_scope.caller_of(scope)
    if caller is None or not caller.is_admin:
        raise forbidden()
    for name in _SETTINGS:
        value = headers.get(name, "").strip()
        if value and not is_number(value):
            raise bad_request(f"Invalid {name[len('x-account-meta-') :]}.")

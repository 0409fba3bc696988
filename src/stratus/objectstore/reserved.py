"""Accounts the cluster keeps for itself, such as the expirer's queue.

Their names start with a dot, which no reseller account (``AUTH_...``) does: the proxy
refuses them to every client, administrators included, and the container and account
servers create them on their first row, since no client ever PUTs them.
"""

from __future__ import annotations

RESERVED_PREFIX = "."


def is_reserved(account: str) -> bool:
    return account.startswith(RESERVED_PREFIX)

"""The queue of objects to expire: names shared by the proxy and the expirer.

An object written with ``X-Delete-At: <t>`` gets an entry in the reserved account
``.expiring_objects``, in the container named after the day of ``t`` (its first second),
as the object ``<t>-<account>/<container>/<object>``. The queue is an ordinary set of
container databases, so it is replicated like any other; the expirer reads only the days
that have come, in time order, instead of scanning every object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUEUE_ACCOUNT = ".expiring_objects"
DAY = 86_400
_ENTRY = re.compile(r"([0-9]{1,20})-([^/]+)/([^/]+)/(.+)", re.DOTALL)


def queue_container(delete_at: int) -> str:
    return str(delete_at - delete_at % DAY)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    delete_at: int
    account: str
    container: str
    obj: str

    @property
    def container_name(self) -> str:
        """The queue container holding this entry."""
        return queue_container(self.delete_at)

    @property
    def name(self) -> str:
        return f"{self.delete_at}-{self.account}/{self.container}/{self.obj}"

    @classmethod
    def parse(cls, name: str) -> QueueEntry | None:
        found = _ENTRY.fullmatch(name)
        if found is None:
            return None
        at, account, container, obj = found.groups()
        return cls(int(at), account, container, obj)

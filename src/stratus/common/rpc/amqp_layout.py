"""Names of the AMQP exchanges and queues of one deployment (prefix ``P``, ``bus.exchange``).

- ``P``: a durable topic exchange; routing key ``topic`` or ``topic.host``;
- ``P.topic`` / ``P.topic.host``: durable queues bound with those keys;
- ``P_fanout.topic``: a durable fan-out exchange per topic, and ``P_fanout.topic.<id>``
  the exclusive auto-delete queue of each server;
- ``P_reply.<id>``: each client's exclusive reply queue.

Topics have no dots and the other kinds use ``_``, so no two names can collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL


@dataclass(frozen=True)
class AmqpNames:
    """Every exchange and queue name derives from the deployment's prefix."""

    prefix: str

    @property
    def exchange(self) -> str:
        return self.prefix

    def queue(self, addr: str) -> str:
        return f"{self.prefix}.{addr}"

    def fanout_exchange(self, topic: str) -> str:
        return f"{self.prefix}_fanout.{topic}"

    def fanout_queue(self, topic: str, tag: str) -> str:
        return f"{self.prefix}_fanout.{topic}.{tag}"

    def reply_queue(self, tag: str) -> str:
        return f"{self.prefix}_reply.{tag}"


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parsed = URL(url)
    return str(parsed.with_password("***")) if parsed.password else url

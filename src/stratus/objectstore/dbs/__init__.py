"""Container and account databases: one SQLite file per container and per account.

``container_broker`` / ``account_broker`` keep the rows (objects of a container, containers
of an account) with their timestamps and tombstones; ``merge`` is how replicas of one
database converge; ``container_server`` / ``account_server`` serve them over Swift's
backend HTTP contract. The layout is summarised in ``docs/architecture.md``.
"""

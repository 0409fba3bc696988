"""The ``stratus`` command: up, serve, db, bootstrap."""

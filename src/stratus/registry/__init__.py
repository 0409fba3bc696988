"""Service registry: which service runs on which host, when it was last heard from, whether
it is disabled. Every service reports heartbeats over RPC, so agents need no DB access."""

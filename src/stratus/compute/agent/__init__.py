"""The compute agent: one per hypervisor host, RPC only, no database credentials."""

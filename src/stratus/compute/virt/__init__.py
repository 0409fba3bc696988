"""Hypervisor drivers: small Protocols over plain dataclasses (DESIGN.md §3).

Drivers never import the database, the bus or each other; the compute agent owns them.
"""

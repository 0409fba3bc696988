"""Compute: the Nova v2.1 API, the conductor, compute agents and hypervisor drivers."""

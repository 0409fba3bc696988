"""The network service: Neutron v2.0 over its own tables (networks, subnets, ports, IPAM)."""

"""The network agent: builds a host's share of the data plane from the service's RPC."""

"""Background daemons that keep the object store's replicas complete and correct."""

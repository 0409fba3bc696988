"""The ``metadata`` service: what a guest learns about itself (EC2 and OpenStack formats)
and the config drive that carries the same files on an ISO9660 volume."""

"""Stratus: an open-source cloud platform behind the OpenStack and AWS APIs."""

__version__ = "0.1.0"

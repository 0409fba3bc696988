"""Placement of instances on hosts: filters, weighers and claims."""

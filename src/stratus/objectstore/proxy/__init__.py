"""The Swift v1 proxy: the stateless front of the object store.

It reads the rings, checks the request against Swift's constraints and the caller's
access, and speaks the backend HTTP contract to the object, container and account
servers: writes go to every replica and succeed on a quorum, reads take the first good
replica. ``app.create_proxy`` builds the ASGI app.
"""

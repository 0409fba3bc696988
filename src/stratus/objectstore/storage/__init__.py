"""The object server's storage layer: versions of objects as files on local devices.

``diskfile.DiskFileManager`` is the entry point; ``object_server`` serves it over Swift's
backend HTTP contract. Layout and formats are described in ``layout.py``, ``metadata.py``
and ``hashes.py`` and summarised in ``docs/architecture.md``.
"""

"""The consistent-hashing ring: which devices hold each partition of the object store.

``builder`` decides the assignment (an operator tool, kept in ``<name>.builder``);
``store`` writes it as an immutable ``<name>.ring`` that every process loads with
``RingLoader`` and queries through ``Ring``.
"""

from stratus.objectstore.ring.builder import RebalanceResult, RingBuilder
from stratus.objectstore.ring.devices import Device
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.ring.store import RingFileError, RingLoader, load_ring, save_ring

__all__ = [
    "Device",
    "RebalanceResult",
    "Ring",
    "RingBuilder",
    "RingFileError",
    "RingLoader",
    "load_ring",
    "save_ring",
]

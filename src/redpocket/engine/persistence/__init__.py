"""Persistence: the append-only file, snapshots, and loading them at start.

Map of the package:

- ``records.py``: commands as RESP records on disk, the strict reader, replay through dispatch
- ``normalize.py``: an executed write command -> deterministic commands (``EX`` -> ``PXAT``, ``SPOP`` -> ``SREM``)
- ``aof.py``: :class:`AppendOnlyFile` (the engine propagator, fsync policies, atomic blocks, rewrite) and its loader
- ``snapshot.py``: capture the dataset under the lock, write it as checksummed records, read it back
- ``manager.py``: :class:`Persistence` (one engine's directory, ticker thread, SAVE/BGSAVE),
  :func:`attach_persistence` (``open_persistence``, the server's spelling) and :func:`open_persistent_engine`
"""

from .manager import Persistence, attach_persistence, open_persistence, open_persistent_engine, persistence_of
from .records import CorruptFileError, PersistenceError

__all__ = [
    "CorruptFileError",
    "Persistence",
    "PersistenceError",
    "attach_persistence",
    "open_persistence",
    "open_persistent_engine",
    "persistence_of",
]

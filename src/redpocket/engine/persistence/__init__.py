"""Persistence: the append-only file, snapshots, and loading them at start.

Map of the package:

- ``records.py``: commands as RESP records on disk, the strict reader, replay through dispatch
- ``normalize.py``: an executed write command -> deterministic commands (``EX`` -> ``PXAT``, ``SPOP`` -> ``SREM``)
- ``aof_manifest.py``: reading Redis 7's multi-part append-only directory (manifest, base, incremental files)
- ``aof.py``: :class:`AppendOnlyFile` (the engine propagator, fsync policies, atomic blocks, rewrite) and its loader
- ``rdb_primitives.py``, ``rdb_listpack.py``, ``rdb_stream.py``, ``rdb.py``: Redis's RDB format (CRC-64, LZF,
  listpack ..., streams; one value, DUMP payloads); ``rdb_file.py``: ``dump.rdb`` files (capture, write, fast load)
- ``snapshot.py``: the older snapshot format (commands as checksummed records), still the AOF rewrite's preamble
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

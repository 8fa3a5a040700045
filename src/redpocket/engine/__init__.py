"""A Redis-compatible data-structure engine, pure Python, that knows nothing of sockets.

Map of the package:

- ``engine.py``: :class:`Engine` (databases, command table, ``execute``)
- ``session.py``: per-client state (db, MULTI queue, watched keys)
- ``registry.py``: the command table and the ``define`` decorator
- ``keyspace.py``: :class:`Database`, lazy expiry; ``expiry.py``: the active sweep
- ``args.py``: argument parsing with Redis's error replies; ``replies.py``: reply values
- ``types/``: the data structures; ``commands/``: thin handlers, one module per family
"""

from .engine import Engine
from .replies import NULL_ARRAY, OK, ReplyError, SimpleString
from .session import Session

__all__ = ["NULL_ARRAY", "OK", "Engine", "ReplyError", "Session", "SimpleString"]

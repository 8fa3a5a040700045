"""A Redis-compatible data-structure engine, pure Python, that knows nothing of sockets.

Map of the package:

- ``engine.py``: :class:`Engine` (databases, command table, ``execute``)
- ``session.py``: per-client state (db, MULTI queue, watched keys)
- ``registry.py``: the command table and the ``define`` decorator
- ``keyspace.py``: :class:`Database` (lazy expiry, ``modified`` / ``notify``) and the
  :class:`~.keyspace.Signals` it reports to; ``expiry.py``: the active sweep
- ``args.py``: argument parsing with Redis's error replies; ``replies.py``: reply values
- ``version.py``, ``categories.py``, ``command_reference.py``: the Redis version,
  command flags and ACL categories, Redis 7.0.15's command metadata; ``lolwut.py``: LOLWUT's art
- ``pubsub.py``, ``tracking.py``, ``slowlog.py``, ``latency.py``, ``clients.py``,
  ``acl.py``, ``info.py``: the engine's services (their commands are in ``commands/``)
- ``types/``: the data structures and their encoding rules; ``commands/``: thin
  handlers, one module per family
- ``structures.py``: the Memo extension API (:class:`Structure`, :func:`command`, :func:`procedure`)
- ``persistence/``: the append-only file, snapshots, :func:`open_persistent_engine`
"""

from . import commands as _commands  # noqa: F401  (registers every command before any Engine is built)
from .commands import dump as _dump_commands  # noqa: F401  (DUMP, RESTORE, MIGRATE: above commands/)
from .commands import functions as _function_commands  # noqa: F401  (FUNCTION, FCALL: above commands/)
from .commands import persistence as _persistence_commands  # noqa: F401  (SAVE, BGSAVE ...: above commands/)
from .commands import scripting as _scripting_commands  # noqa: F401  (EVAL, SCRIPT: above commands/)
from .engine import Engine
from .replies import NULL_ARRAY, OK, ReplyError, SimpleString
from .session import Session
from .structures import ProcedureContext, Structure, add_structure, command, procedure

__all__ = [
    "NULL_ARRAY",
    "OK",
    "Engine",
    "ProcedureContext",
    "ReplyError",
    "Session",
    "SimpleString",
    "Structure",
    "add_structure",
    "command",
    "procedure",
]

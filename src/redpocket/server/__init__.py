"""The TCP front end: the only code of redpocket that touches sockets.

Map of the package:

- ``server.py``: :class:`Server` (listening, client table, blocked clients, MONITOR, shutdown)
- ``connection.py``: one client: hiredis fast path, exact parser slow path, per-client state
- ``protocol.py``: RESP2/RESP3 reply encoding and Redis's request parser with its protocol errors
- ``commands.py``: QUIT, MONITOR, SHUTDOWN, SLOWLOG and the socket side of RESET and CLIENT KILL
- ``config.py``: ``redis.conf`` files; ``logs.py``: Redis-style log lines
- ``migrate.py``: the network half of MIGRATE (the engine's ``"migrate_transport"`` extension)
- ``replication.py``: this server as a master (PSYNC, the command stream, backlog, REPLCONF ACK, WAIT,
  INFO replication, ROLE); ``replica.py``: this server as a replica (REPLICAOF, the link to its master)
"""

from .server import Server

__all__ = ["Server"]

"""Command handlers, one module per family; importing this package registers them all.

Each module holds thin handlers: parse ``argv``, call the data structure's
API in :mod:`redpocket.engine.types`, return a reply.  Generic checks
(unknown command, arity, MULTI queueing) already ran in the engine.

``persistence.py`` (SAVE, BGSAVE ...), ``scripting.py`` (EVAL, SCRIPT), ``functions.py`` (FUNCTION, FCALL) and
``dump.py`` (DUMP, RESTORE, MIGRATE: the RDB format) are
the commands of layers above this one (``engine/persistence/``,
``engine/scripting.py``): the ``redpocket.engine`` package registers them.
"""

from . import (  # noqa: F401
    acl,
    bits,
    cluster,
    connection,
    geo,
    hashes,
    hyperloglog,
    introspection,
    keys,
    lists,
    modules,
    monitors,
    pubsub,
    saves,
    server,
    sets,
    sort,
    sortedsets,
    stream_groups,
    streams,
    strings,
    tracking,
    transactions,
)

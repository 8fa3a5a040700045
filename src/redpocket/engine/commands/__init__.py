"""Command handlers, one module per family; importing this package registers them all.

Each module holds thin handlers: parse ``argv``, call the data structure's
API in :mod:`redpocket.engine.types`, return a reply.  Generic checks
(unknown command, arity, MULTI queueing) already ran in the engine.

``persistence.py`` (SAVE, BGSAVE ...), ``scripting.py`` (EVAL, SCRIPT) and ``functions.py`` (FUNCTION, FCALL) are
the commands of layers above this one (``engine/persistence/``,
``engine/scripting.py``): the ``redpocket.engine`` package registers them.
"""

from . import (  # noqa: F401
    acl,
    bits,
    cluster,
    connection,
    dump,
    geo,
    hashes,
    hyperloglog,
    introspection,
    keys,
    lists,
    monitors,
    pubsub,
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

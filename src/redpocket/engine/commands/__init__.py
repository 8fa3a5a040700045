"""Command handlers, one module per family; importing this package registers them all.

Each module holds thin handlers: parse ``argv``, call the data structure's
API in :mod:`redpocket.engine.types`, return a reply.  Generic checks
(unknown command, arity, MULTI queueing) already ran in the engine.
"""

from .. import tracking  # noqa: F401  (CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO)
from . import (  # noqa: F401
    acl,
    bits,
    connection,
    dump,
    hashes,
    hyperloglog,
    introspection,
    keys,
    lists,
    persistence,
    pubsub,
    scripting,
    server,
    sets,
    sort,
    sortedsets,
    strings,
    transactions,
)

"""redpocket: Redis as the main data store for Python applications.

- :func:`connect` / :func:`get_client`: the embedded engine (default), a
  Redis server, named connections (:mod:`redpocket.connections`)
- :mod:`redpocket.engine`: the Redis-compatible engine that runs in-process
- :mod:`redpocket.client`: the redis-py connection class for that engine
- :class:`ActiveRecord` (``Model``) and :mod:`attributes`: the ORM (:mod:`redpocket.orm`)
- :func:`pipeline`: pipelines with deferred results (:mod:`redpocket.pipeline`)
- :class:`String`, :class:`Hash`, ... : typed keyspaces (:mod:`redpocket.keyspaces`)

The layers, bottom up; a module imports only from its own layer and those
below it (``tests/test_layers.py`` checks every import):

1. replies, args, registry: ``errors``, ``engine/replies``, ``args``,
   ``registry``, ``version``, ``categories``, ``command_reference``
2. types: ``engine/types/``
3. keyspace: ``engine/keyspace`` (``Database`` and its ``Signals``), ``expiry``
4. config, session, monitors: ``config``, ``session``, ``slowlog``,
   ``latency``, ``clients``, ``pubsub``, ``tracking``, ``acl``, ``info``
5. engine: ``engine/engine`` (the command table, the one call loop)
6. commands: ``engine/commands/``, one module per family
7. persistence, scripting, structures: ``engine/persistence/``,
   ``engine/scripting`` (with ``commands/scripting``), ``engine/structures``
8. client, server: ``client``, ``server/``
9. connections, pipeline, keyspaces, orm
"""

from .client import EmbeddedConnection, EmbeddedRedis
from .connections import configure, connect, disconnect, get_client
from .engine.persistence.records import CorruptFileError, PersistenceError
from .errors import (
    ConfigurationError,
    ConflictError,
    DecodeError,
    DefinitionError,
    DoesNotExist,
    ORMError,
    PipelineError,
    QueryError,
    RedpocketError,
    ResultNotReady,
    UniqueError,
    ValidationError,
)
from .keyspaces import Codec, Hash, HyperLogLog, Keyspace, List, Set, SortedSet, String
from .orm import ActiveRecord, Model, QuerySet, ResultSet, attributes
from .pipeline import DeferredResult, PipelineContext, current_pipeline, pipeline

__version__ = "0.1.0"

__all__ = [
    "ActiveRecord",
    "Codec",
    "ConfigurationError",
    "ConflictError",
    "CorruptFileError",
    "DecodeError",
    "DeferredResult",
    "DefinitionError",
    "DoesNotExist",
    "EmbeddedConnection",
    "EmbeddedRedis",
    "Hash",
    "HyperLogLog",
    "Keyspace",
    "List",
    "Model",
    "ORMError",
    "PersistenceError",
    "PipelineContext",
    "PipelineError",
    "QueryError",
    "QuerySet",
    "RedpocketError",
    "ResultNotReady",
    "ResultSet",
    "Set",
    "SortedSet",
    "String",
    "UniqueError",
    "ValidationError",
    "attributes",
    "configure",
    "connect",
    "current_pipeline",
    "disconnect",
    "get_client",
    "pipeline",
]

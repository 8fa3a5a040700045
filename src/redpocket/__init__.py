"""redpocket: Redis as the main data store for Python applications.

- :func:`connect` / :func:`get_client`: the embedded engine (default), a
  Redis server, named connections (:mod:`redpocket.connections`);
  :func:`connect_async` for ``redis.asyncio`` clients
  (:mod:`redpocket.client_async` on the embedded engine)
- :mod:`redpocket.engine`: the Redis-compatible engine that runs in-process
- :mod:`redpocket.client`: the redis-py connection class for that engine
- :class:`ActiveRecord` (``Model``) and :mod:`attributes`: the ORM (:mod:`redpocket.orm`)
- :func:`pipeline` / :func:`apipeline`: pipelines with deferred results, sync or
  asyncio (:mod:`redpocket.pipeline`, driven by :mod:`redpocket.steps`)
- :class:`String`, :class:`Hash`, ... : typed keyspaces (:mod:`redpocket.keyspaces`)
- :mod:`redpocket.transfer`: copy keys between stores (``redpocket export`` / ``import``)

The layers, bottom up; a module imports only from its own layer and those
below it (``tests/test_layers.py`` checks every import):

1. replies, args, registry: ``errors``, ``engine/replies``, ``args``,
   ``registry``, ``version``, ``categories``, ``command_reference``, ``lolwut``
2. types: ``engine/types/``
3. keyspace: ``engine/keyspace`` (``Database`` and its ``Signals``), ``expiry``
4. config, session, monitors: ``config``, ``session``, ``slowlog``,
   ``latency``, ``clients``, ``pubsub``, ``tracking``, ``acl``, ``info``
5. engine: ``engine/engine`` (the command table, the one call loop)
6. commands: ``engine/commands/``, one module per family
7. persistence, scripting, structures: ``engine/persistence/``,
   ``engine/scripting`` (with ``commands/scripting``), ``engine/functions`` (with
   ``commands/functions``) and ``engine/lua_libraries/``, ``engine/structures``
8. client, server: ``client``, ``server/``
9. connections, pipeline, keyspaces, orm (and ``transfer``, which uses connections)
"""

from .client import EmbeddedConnection, EmbeddedRedis
from .client_async import AsyncEmbeddedConnection, AsyncEmbeddedRedis
from .connections import configure, connect, connect_async, disconnect, disconnect_async, get_async_client, get_client
from .engine.persistence.records import CorruptFileError, PersistenceError
from .errors import (
    ConfigurationError,
    ConflictError,
    DecodeError,
    DefinitionError,
    DoesNotExist,
    IndexNotReady,
    MigrationError,
    ORMError,
    OutOfMemoryError,
    PipelineError,
    ProtectedError,
    QueryError,
    RedpocketError,
    ResultNotReady,
    TransferError,
    UniqueError,
    ValidationError,
)
from .keyspaces import Codec, Hash, HyperLogLog, Keyspace, List, Set, SortedSet, String
from .orm import CASCADE, DO_NOTHING, PROTECT, SET_NULL, ActiveRecord, F, Model, QuerySet, ResultSet, attributes
from .pipeline import DeferredResult, PipelineContext, apipeline, current_pipeline, pipeline

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - plainly sorted (tests/test_package.py), constants included
    "ActiveRecord",
    "AsyncEmbeddedConnection",
    "AsyncEmbeddedRedis",
    "CASCADE",
    "Codec",
    "ConfigurationError",
    "ConflictError",
    "CorruptFileError",
    "DO_NOTHING",
    "DecodeError",
    "DeferredResult",
    "DefinitionError",
    "DoesNotExist",
    "EmbeddedConnection",
    "EmbeddedRedis",
    "F",
    "Hash",
    "HyperLogLog",
    "IndexNotReady",
    "Keyspace",
    "List",
    "MigrationError",
    "Model",
    "ORMError",
    "OutOfMemoryError",
    "PROTECT",
    "PersistenceError",
    "PipelineContext",
    "PipelineError",
    "ProtectedError",
    "QueryError",
    "QuerySet",
    "RedpocketError",
    "ResultNotReady",
    "ResultSet",
    "SET_NULL",
    "Set",
    "SortedSet",
    "String",
    "TransferError",
    "UniqueError",
    "ValidationError",
    "apipeline",
    "attributes",
    "configure",
    "connect",
    "connect_async",
    "current_pipeline",
    "disconnect",
    "disconnect_async",
    "get_async_client",
    "get_client",
    "pipeline",
]

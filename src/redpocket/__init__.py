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
from .pipeline import DeferredResult, PipelineContext, apipeline, current_pipeline, pipeline

__version__ = "0.1.0"

__all__ = [
    "ActiveRecord",
    "AsyncEmbeddedConnection",
    "AsyncEmbeddedRedis",
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

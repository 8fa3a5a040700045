"""redpocket: Redis as the main data store for Python applications.

- :func:`connect` / :func:`get_client`: the embedded engine (default), a
  Redis server, named connections (:mod:`redpocket.connections`)
- :mod:`redpocket.engine`: the Redis-compatible engine that runs in-process
- :mod:`redpocket.client`: the redis-py connection class for that engine
- :func:`pipeline`: pipelines with deferred results (:mod:`redpocket.pipeline`)
- :class:`String`, :class:`Hash`, ... : typed keyspaces (:mod:`redpocket.keyspaces`)
"""

from .client import EmbeddedConnection, EmbeddedRedis
from .connections import configure, connect, disconnect, get_client
from .errors import ConfigurationError, PipelineError, RedpocketError, ResultNotReady
from .keyspaces import Codec, Hash, HyperLogLog, Keyspace, List, Set, SortedSet, String
from .pipeline import DeferredResult, PipelineContext, current_pipeline, pipeline

__version__ = "0.1.0"

__all__ = [
    "Codec",
    "ConfigurationError",
    "DeferredResult",
    "EmbeddedConnection",
    "EmbeddedRedis",
    "Hash",
    "HyperLogLog",
    "Keyspace",
    "List",
    "PipelineContext",
    "PipelineError",
    "RedpocketError",
    "ResultNotReady",
    "Set",
    "SortedSet",
    "String",
    "configure",
    "connect",
    "current_pipeline",
    "disconnect",
    "get_client",
    "pipeline",
]

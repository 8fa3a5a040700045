"""One exception tree for every layer of redpocket.

::

    RedpocketError
     ├── ConfigurationError      bad connection URL, unknown connection name
     └── PipelineError           a pipeline context used the wrong way
          └── ResultNotReady     DeferredResult.result read before execution

Errors that Redis (or the embedded engine) answers reach the caller as
redis-py's own exceptions (``redis.ResponseError`` and its subclasses), so
code written against a Redis server behaves the same on the embedded engine.
"""

from __future__ import annotations


class RedpocketError(Exception):
    """The base of every exception redpocket raises itself."""


class ConfigurationError(RedpocketError, ValueError):
    """A connection URL, name or option that cannot be used."""


class PipelineError(RedpocketError):
    """A pipeline context used the wrong way (wrong thread, ``pipe=`` of the wrong type ...)."""


class ResultNotReady(PipelineError):
    """A :class:`~redpocket.pipeline.DeferredResult` was read before its pipeline executed."""

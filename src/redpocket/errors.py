"""One exception tree for every layer of redpocket.

::

    RedpocketError
     ├── ConfigurationError      bad connection URL, unknown connection name
     ├── PipelineError           a pipeline context used the wrong way
     │    └── ResultNotReady     DeferredResult.result read before execution
     ├── TransferError           an export/import that could not copy every key (lists them)
     └── ORMError
          ├── DefinitionError    a model declaration that cannot work (at class creation)
          ├── ValidationError    a value an attribute refuses (at assignment)
          │    └── UniqueError   a unique value already held by another record (at save)
          ├── ConflictError      a versioned record changed since it was loaded
          ├── OutOfMemoryError   a save refused by Redis's maxmemory (also a redis OutOfMemoryError); nothing written
          ├── ProtectedError     a delete refused by a Pointer(on_delete=PROTECT); nothing deleted
          ├── MigrationError     a stored schema the ORM cannot migrate to the class (type change refused)
          ├── DoesNotExist       get() found nothing (Model.DoesNotExist subclasses it)
          ├── MultipleObjectsReturned
          ├── DecodeError        stored data an attribute cannot decode (names the key)
          └── QueryError         an unknown attribute or lookup in a query
               └── IndexNotReady  a query needs an index not built yet (names the command that builds it)

The engine's own errors live in the engine (it imports nothing from the
layers above): ``PersistenceError`` and its ``CorruptFileError`` (an
append-only file or snapshot that cannot be loaded, with the offset) are in
:mod:`redpocket.engine.persistence.records` and exported by ``redpocket``.

Errors that Redis (or the embedded engine) answers reach the caller as
redis-py's own exceptions (``redis.ResponseError`` and its subclasses), so
code written against a Redis server behaves the same on the embedded engine.
"""

from __future__ import annotations

import redis.exceptions


class RedpocketError(Exception):
    """The base of every exception redpocket raises itself."""


class ConfigurationError(RedpocketError, ValueError):
    """A connection URL, name or option that cannot be used."""


class PipelineError(RedpocketError):
    """A pipeline context used the wrong way (wrong thread, ``pipe=`` of the wrong type ...)."""


class ResultNotReady(PipelineError):
    """A :class:`~redpocket.pipeline.DeferredResult` was read before its pipeline executed."""


class TransferError(RedpocketError):
    """An export or import (:mod:`redpocket.transfer`) that failed: the keys it could not copy, and why."""

    def __init__(self, message: str, failed: dict[bytes, str] | None = None) -> None:
        super().__init__(message)
        self.failed: dict[bytes, str] = failed or {}


class ORMError(RedpocketError):
    """The base of the ORM's errors."""


class DefinitionError(ORMError, TypeError):
    """A model declaration that cannot work (raised when the class is created)."""


class ValidationError(ORMError, ValueError):
    """A value that an attribute does not accept; names the model, attribute, value and reason."""

    def __init__(self, model: str, attribute: str, value: object, reason: str) -> None:
        self.model = model
        self.attribute = attribute
        self.value = value
        self.reason = reason
        super().__init__(f"{model}.{attribute}: {value!r} is not valid: {reason}")


class UniqueError(ValidationError):
    """A save would give a unique attribute a value another record already holds; nothing was written."""


class ConflictError(ORMError):
    """A versioned record changed in Redis since it was loaded; nothing was written."""


class OutOfMemoryError(ORMError, redis.exceptions.OutOfMemoryError):
    """A save or delete Redis refused because its memory is over ``maxmemory`` and nothing may be evicted.

    Nothing was written (the save is one script, refused before its first
    write).  Also a ``redis.exceptions.OutOfMemoryError``, so code catching
    redis-py's error catches it too; ``__cause__`` is redis-py's error.
    """


class ProtectedError(ORMError):
    """A delete refused because records point to the record through ``Pointer(on_delete=PROTECT)``; nothing was deleted."""

    def __init__(self, message: str, protected: list[object]) -> None:
        self.protected = protected
        super().__init__(message)


class MigrationError(ORMError):
    """A stored schema that cannot be migrated to the class as declared (a type change whose values do not convert)."""


class DoesNotExist(ORMError, LookupError):
    """No record matches a ``get()``; each model has its own subclass, ``Model.DoesNotExist``."""


class MultipleObjectsReturned(ORMError, LookupError):
    """``get()`` matched more than one record."""


class DecodeError(ORMError, ValueError):
    """Stored data that an attribute cannot decode; names the Redis key and field."""


class QueryError(ORMError, ValueError):
    """A query that cannot be expressed (unknown attribute or lookup, lookup without the index it needs)."""


class IndexNotReady(QueryError):
    """A query needs an index that is declared but not built yet; the message names the command that builds it."""

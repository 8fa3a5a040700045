"""The ORM: active records with typed attributes, indexes, queries and pointers.

The modules, bottom up (each imports only from those above it):

- ``keys.py``: the ONE place that names keys; ``registry.py``: the declared models
- ``attributes.py``: the attribute types (and ``on_delete`` actions); ``expressions.py``: ``F()``
- ``unit.py``: the save compiler (sans-IO) and ``scripts/*.lua``: atomic saves, expiry, index builds
- ``loading.py``: loading records (after the expiry sweep), pointer batches
- ``schema.py``: the stored schema, index readiness, ``migrate()``
- ``maintenance.py``: ``check()`` and ``rebuild_indexes()``
- ``query.py``: managers and lazy queries; ``relations.py``: ``related_name``, ``on_delete``
- ``model.py``: :class:`ActiveRecord` (``Model``), the metaclass, the sync save driver;
  ``streams.py``: ByteStream handles
"""

from . import attributes
from .attributes import CASCADE, DO_NOTHING, PROTECT, SET_NULL
from .expressions import F
from .model import ActiveRecord, Model
from .query import Manager, QuerySet, ResultSet

__all__ = [
    "CASCADE",
    "DO_NOTHING",
    "PROTECT",
    "SET_NULL",
    "ActiveRecord",
    "F",
    "Manager",
    "Model",
    "QuerySet",
    "ResultSet",
    "attributes",
]

"""The ORM: active records with typed attributes, indexes, queries and pointers.

- ``model.py``: :class:`ActiveRecord` (``Model``), the metaclass, save/delete
- ``attributes.py``: the attribute types; ``streams.py``: ByteStream handles
- ``keys.py``: the ONE place that names keys; ``scripts/*.lua``: atomic saves
- ``query.py``: managers and lazy queries; ``relations.py``: ``related_name``
- ``maintenance.py``: ``check()`` and ``rebuild_indexes()``
"""

from . import attributes
from .model import ActiveRecord, Model
from .query import Manager, QuerySet, ResultSet

__all__ = ["ActiveRecord", "Manager", "Model", "QuerySet", "ResultSet", "attributes"]

"""The one place that names the ORM's Redis keys.

Every key of a model carries the model's hash tag ``{namespace:Model}``, so
one save touches one Redis Cluster slot:

=====================================  ==========  =================================
key                                    type        holds
=====================================  ==========  =================================
``{ns:Model}:id:<id>``                 hash        one record, a field per attribute
``{ns:Model}:ids``                     set         the ids of every record
``{ns:Model}:stream:<attr>:<id>``      string      a ByteStream attribute's bytes
``{ns:Model}:eq:<attr>:<value>``       set         ids with that value (equality index, not unique)
``{ns:Model}:num:<attr>``              sorted set  ids scored by value (numeric index)
``{ns:Model}:pre:<attr>``              sorted set  ``value\\0id`` members (prefix index)
``{ns:Model}:uniq:<attr>``             hash        value -> id (unique claims; also the equality index)
``{ns:Model}:tmp:<random>``            any         a query's scratch key, with a TTL
``{ns:Model}:expires``                 sorted set  id -> deadline (ms since the epoch) of expiring records
=====================================  ==========  =================================

A model with ``class Meta: partition = "tenant"`` keeps each partition's
records and indexes under the partition's own hash tag
``{ns:Model:<partition value>}`` (the same key names as above, e.g.
``{ns:Model:acme}:id:<id>``), so one partition lives in one cluster slot
and different partitions spread over the cluster.  Two keys under the
model's tag say where things are:

=====================================  ==========  =================================
``{ns:Model}:partitions``              set         every partition value in use
``{ns:Model}:partition_of``            hash        record id -> its partition value
``{ns:Model}:schema``                  hash        the stored schema (see :mod:`.schema`)
=====================================  ==========  =================================

The record hash has one field per attribute (named like the attribute,
holding the native text of :mod:`.attributes`; ``None`` is an absent field),
plus ``_version`` for ``Meta.versioned`` models.  A unique attribute's
claims hash is also its equality index: it has no ``eq:`` sets (an earlier
layout kept both; ``rebuild_indexes()`` deletes such sets).  Scratch keys
are deleted in the round trip that created them; the TTL only covers a
client that died.  These names are part of the stored format: changing one needs a migration.
The Lua scripts compose the index key names of computed values and of
expiring records from the tag (``scripts/index.lua``), in exactly these forms.

``ns`` is ``Meta.namespace`` (default ``redpocket``) and ``Model`` is
``Meta.name`` (default: the class name), never the Python module, so moving
a class to another module loses nothing.
"""

from __future__ import annotations

import uuid


class ModelKeys:
    """Key names for one model, or for one partition of a partitioned model."""

    __slots__ = ("expires", "ids", "partition", "partition_of", "partitions", "schema", "tag")

    def __init__(self, namespace: str, name: str, partition: str | None = None) -> None:
        self.partition = partition
        if partition is None:
            self.tag = "{%s:%s}" % (namespace, name)
        else:
            self.tag = "{%s:%s:%s}" % (namespace, name, partition)
        model_tag = "{%s:%s}" % (namespace, name)
        self.ids = f"{self.tag}:ids"
        self.partitions = f"{model_tag}:partitions"
        self.partition_of = f"{model_tag}:partition_of"
        self.expires = f"{self.tag}:expires"
        self.schema = f"{model_tag}:schema"

    def record(self, ident: str) -> str:
        """Return the hash key of record ``ident``."""
        return f"{self.tag}:id:{ident}"

    def stream(self, attribute: str, ident: str) -> str:
        """Return the string key of a ByteStream attribute of record ``ident``."""
        return f"{self.tag}:stream:{attribute}:{ident}"

    def equality(self, attribute: str, value: bytes) -> bytes:
        """Return the set key of the ids whose ``attribute`` equals ``value`` (stored form)."""
        return f"{self.tag}:eq:{attribute}:".encode() + value

    def numeric(self, attribute: str) -> str:
        """Return the sorted set key of a numeric index."""
        return f"{self.tag}:num:{attribute}"

    def prefix(self, attribute: str) -> str:
        """Return the sorted set key of a prefix index."""
        return f"{self.tag}:pre:{attribute}"

    def unique(self, attribute: str) -> str:
        """Return the hash key of a unique attribute's claims."""
        return f"{self.tag}:uniq:{attribute}"

    def temporary(self) -> str:
        """Return a fresh scratch key for a query."""
        return f"{self.tag}:tmp:{uuid.uuid4().hex}"


def key_pattern(prefix: str) -> bytes:
    """Return the SCAN ``MATCH`` pattern of every key starting with ``prefix`` (its glob characters escaped)."""
    escaped = prefix.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?").replace("[", "\\[").replace("]", "\\]")
    return escaped.encode() + b"*"

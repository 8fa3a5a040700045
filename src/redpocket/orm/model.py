"""Active records: ``class User(ActiveRecord): name = attributes.Unicode()``.

A model's metaclass builds ``_meta`` (attributes, primary key, indexes, key
names) and checks the declaration, raising :class:`DefinitionError` at class
creation.  A record is saved as one hash (see :mod:`.keys`); a save — the
record, its old index entries removed, its new ones added, unique claims
checked — is one Lua script (``scripts/apply.lua``), so it is atomic and one
round trip.

Concurrency: a save writes only the attributes assigned since the record was
loaded, and the script first checks that the indexed attributes it rewrites
still hold the values this process saw (for a record never loaded nor
saved: that its hash does not exist); if another writer changed them, the
record's stored values are re-read and the save retried, so indexes never
disagree with the data.  With ``class Meta: versioned = True`` a save (or
``update()`` / ``delete()``) of a record that changed since it was loaded
raises :class:`ConflictError` instead.

Redis Cluster: every key a save touches is declared in the script's KEYS
and carries the model's hash tag, so a save is one slot on one node.  With
``class Meta: partition = "tenant"`` the tag is the partition's instead
(``{ns:Model:acme}``, see :mod:`.keys`): records of one partition share a
slot with their own indexes, and the model spreads over the cluster.  The
partition attribute is required and cannot change once saved (delete and
re-create the record to move it), and **unique attributes are unique per
partition**.  The first save of a record also registers its partition
(``SADD {ns:Model}:partitions``) and its id (``HSET
{ns:Model}:partition_of``), which live in another slot: they are idempotent
writes sent before the save script (in the same batch in a pipeline, a
round trip before it otherwise), so a record is never saved unregistered;
a failed save can leave a harmless registration behind.

asyncio: every method that talks to Redis has an ``a``-form (``asave()``,
``aupdate()``, ``aincr()``, ``adelete()``, ``arefresh()``, ``acreate()``,
``aexpire()``, ``apersist()``, ``attl()``, ``arelated()``) on the model's
``connect_async()`` connection.  Both run one generator of I/O steps
(``_save_steps`` ...; see :mod:`.io`): the sync method with ``run_sync``,
the ``a``-form with ``await run_async``.

Pipelines (``pipe=``):

- a ``redpocket.pipeline()`` context: the script is queued; its outcome is
  handled when the outermost block exits (a :class:`UniqueError` or
  :class:`ConflictError` is raised there; the other records of the batch
  are still written).  ``delete(pipe=ctx)`` returns a ``DeferredResult``
  of the number of keys deleted.
- a raw redis-py pipeline: the script is queued and its reply lands in the
  pipeline's ``execute()`` results, as the raw list ``[b"ok", version,
  deleted]`` / ``[b"unique", attribute, value]`` / ``[b"stale", attribute]``
  (``b""`` when a record thought new exists) / ``[b"conflict", version]``; nothing inspects it, and the record keeps
  its unsaved state (a later save re-reads what it needs, so it stays
  correct).  ``delete(pipe=raw)`` returns ``None``.  Prefer
  ``redpocket.pipeline()``.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, ClassVar

import redis
from redis.cluster import RedisCluster

from ..connections import DEFAULT, get_async_client, get_client
from ..errors import (
    ConflictError,
    DecodeError,
    DefinitionError,
    DoesNotExist,
    MultipleObjectsReturned,
    OutOfMemoryError,
)
from ..pipeline import ClusterBatch, DeferredResult, PipelineContext, ensure_scripts, failover_steps, raw_pipeline
from ..steps import Steps, run_async, run_sync
from .attributes import (
    DO_NOTHING,
    JSON,
    Attribute,
    AutoUUID,
    Bytes,
    ByteStream,
    DateTime,
    Float,
    Integer,
    Pointer,
    Unicode,
)
from .expressions import F
from .io import LuaScript, client_steps, execute, ride, script_steps
from .keys import ModelKeys
from .loading import ensure_sweep, sweep_steps
from .registry import models
from .schema import SchemaState, queue_schema, store_schema_steps, synchronise
from .unit import APPLY_BATCH_LUA, APPLY_LUA, EXPIRE_LUA, NATIVE_APPLY, VERSION_FIELD, Change, layout_args, native_apply

if TYPE_CHECKING:
    from .query import Manager

APPLY = LuaScript(APPLY_LUA)
APPLY_BATCH = LuaScript(APPLY_BATCH_LUA)  # saves queued one after another in a pipeline context: one script call
EXPIRE = LuaScript(EXPIRE_LUA)

MAX_RETRIES = 25
DECODE_ERRORS = (ValueError, TypeError, KeyError, UnicodeDecodeError, AttributeError, OverflowError)

RESERVED = frozenset(
    {"objects", "save", "delete", "create", "update", "refresh", "to_dict", "matches", "pk", "keys", "is_saved",
     "DoesNotExist", "MultipleObjectsReturned", "Meta", VERSION_FIELD}
)

Names = AbstractSet[str]  # the attributes a save writes

_pending_related: dict[str, list[Pointer]] = {}


class Options:
    """A model's ``_meta``: its attributes, primary key, indexes, key names and precomputed save/load plans."""

    def __init__(self, model: type[ActiveRecord], attributes: dict[str, Attribute], meta: Any) -> None:
        self.model = model
        self.name: str = getattr(meta, "name", model.__name__)
        self.namespace: str = getattr(meta, "namespace", "redpocket")
        self.connection: str = getattr(meta, "connection", DEFAULT)
        self.versioned: bool = bool(getattr(meta, "versioned", False))
        self.attributes = attributes
        self.attribute_names = frozenset(attributes)
        primary = [a for a in attributes.values() if a.primary_key]
        self.pk: Attribute = primary[0]
        self.streams = [a for a in attributes.values() if isinstance(a, ByteStream)]
        self.fields = [a for a in attributes.values() if not isinstance(a, ByteStream) and not a.primary_key]
        self.indexed = [a for a in attributes.values() if (a.index or a.unique) and not a.primary_key]
        self.indexed_names = [a.name for a in self.indexed]
        self.pointers = [a for a in attributes.values() if isinstance(a, Pointer)]
        self.keys = ModelKeys(self.namespace, self.name)
        partition = getattr(meta, "partition", None)
        self.partition: Attribute | None = None
        if partition is not None:
            attribute = attributes.get(partition)
            if attribute is None:
                raise DefinitionError(f"{model.__name__}.Meta.partition names {partition!r}, which is not an attribute")
            if attribute.primary_key or attribute.null or isinstance(attribute, ByteStream | Bytes | JSON):
                raise DefinitionError(
                    f"{model.__name__}.{partition}: a partition attribute must be a required, non-null text, number, "
                    f"date, UUID, Enum or Pointer attribute other than the primary key"
                )
            self.partition = attribute
        self._partition_keys: dict[str, ModelKeys] = {}
        # What _from_hash decodes (the primary key comes from the record's key), with C-level
        # decoders where the attribute's from_redis is exactly one of them.
        fast: dict[type, Any] = {Unicode: bytes.decode, Integer: int, Float: float}
        self.decode_plan = [(a.name, a.field, fast.get(type(a), a.from_redis)) for a in self.fields]
        # Attributes whose change touches no index: written with a plain HSET.
        self.plain_names = frozenset(a.name for a in self.fields if a.index is None)
        self.auto_now = [a.name for a in attributes.values() if isinstance(a, DateTime) and a.auto_now]
        self.auto_now_add = [a.name for a in attributes.values() if isinstance(a, DateTime) and a.auto_now_add and not a.auto_now]
        self.must_have = [
            a for a in attributes.values()
            if (a.required or not a.null) and not isinstance(a, ByteStream) and not a.primary_key
        ]
        self.required_streams = [a for a in self.streams if a.required]
        self._scripts: dict[str, Any] = {}
        ttl = getattr(meta, "ttl", None)
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0):
            raise DefinitionError(f"{model.__name__}.Meta.ttl must be a positive number of seconds, not {ttl!r}")
        self.ttl: float | None = ttl
        self.ttl_text = "" if ttl is None else str(max(1, round(ttl * 1000)))  # the save script's ttl argument
        self.sweep_layout = layout_args(self)
        self._dependents: list[Pointer] | None = None
        self._generation = -1
        migrate_mode = getattr(meta, "migrate", "explicit")
        if migrate_mode not in ("explicit", "auto"):
            raise DefinitionError(f"{model.__name__}.Meta.migrate must be \"explicit\" or \"auto\", not {migrate_mode!r}")
        self.auto_migrate = migrate_mode == "auto"
        self.schema: SchemaState | None = None
        self.read_defaults: list[tuple[str, Attribute]] = []  # added attributes: absent fields read their default
        self._schema_client: Any = None
        self._async_schema_client: Any = None  # the asyncio client whose schema was compared (see .io.client_steps)
        self.schema_stored = True  # False: the model has no stored schema; its next created record stores it

    def client(self) -> Any:
        """Return the redis-py client of the model's connection (a ``RedisCluster`` on a cluster).

        The first call for a connection compares the stored schema with the class (:mod:`.schema`).
        """
        client = get_client(self.connection)
        if self._schema_client is not client:
            self._schema_client = client
            try:
                ensure_sweep(client)  # every read runs it by its SHA
                synchronise(self, client)
            except BaseException:
                self._schema_client = None
                raise
        return client

    def keys_for(self, partition: str | None) -> ModelKeys:
        """Return the key names of one partition (of the model itself when unpartitioned)."""
        if self.partition is None or partition is None:
            return self.keys
        keys = self._partition_keys.get(partition)
        if keys is None:
            if len(self._partition_keys) > 10000:
                self._partition_keys.clear()
            keys = self._partition_keys[partition] = ModelKeys(self.namespace, self.name, partition)
        return keys

    def partition_text(self, value: Any) -> str:
        """Return the stored text of a partition value (what its hash tag holds)."""
        attribute = self.partition
        assert attribute is not None
        raw = attribute.to_redis(value)
        try:
            return raw.decode() if isinstance(raw, bytes) else str(raw)
        except UnicodeDecodeError:
            raise attribute.invalid(value, "a partition value must be text") from None

    def all_partition_keys(self, client: Any = None) -> list[ModelKeys]:
        """Return the key names of every partition in use (one SMEMBERS), or the model's own when unpartitioned."""
        return run_sync(self.all_partition_keys_steps(client or (self.client() if self.partition is not None else None)))

    def all_partition_keys_steps(self, client: Any) -> Steps[list[ModelKeys]]:
        """The steps of :meth:`all_partition_keys` on ``client`` (sync or asyncio)."""
        if self.partition is None:
            return [self.keys]
        members = yield from ride(client, lambda: client.smembers(self.keys.partitions))
        values = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        return [self.keys_for(value) for value in values]

    def native_apply(self, aio: bool = False) -> bool:
        """Tell whether saves run as redpocket's native ``REDPOCKET.APPLY`` on the model's (sync or asyncio) client."""
        return native_apply(get_async_client(self.connection) if aio else self.client())

    def apply_script(self) -> Any:
        """Return the save/delete procedure, called like a redis-py ``Script`` (with ``client=``).

        On redpocket's own engine it is the script's native twin
        (:class:`~.unit.NativeApply`), elsewhere ``scripts/apply.lua``.
        """
        if native_apply(self.client()):
            return NATIVE_APPLY
        return self.script(APPLY_LUA)

    def script(self, source: str) -> Any:
        """Return one of the ORM's scripts as a redis-py ``Script`` (call it with ``client=``)."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = redis.commands.core.Script(self.client(), source)
        return script

    def expressions(self, changes: dict[str, Any]) -> dict[str, F]:
        """Return the F() expressions among ``changes``, each checked against its attribute."""
        computed = {name: value for name, value in changes.items() if isinstance(value, F)}
        for name, expression in computed.items():
            expression.check(self.attributes[name], self.attributes.get(expression.name))
        return computed

    def dependents(self) -> list[Pointer]:
        """Return the Pointer attributes of every model that point to this one with an ``on_delete`` action."""
        if self._dependents is None or models.generation != self._generation:
            self._generation = models.generation
            found = []
            for model in models.classes():
                for pointer in model._meta.pointers:
                    if pointer.on_delete != DO_NOTHING and pointer.target_is(self.model):
                        found.append(pointer)
            self._dependents = found
        return self._dependents


def _reserved(name: str) -> bool:
    return name in RESERVED or name.startswith("_") or "__" in name or hasattr(ActiveRecord, name)


class ModelBase(type):
    """Builds ``_meta``, ``objects`` and ``DoesNotExist`` for every ActiveRecord subclass."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> Any:
        meta = namespace.pop("Meta", None)
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if not any(isinstance(base, ModelBase) for base in bases):
            return cls  # ActiveRecord itself
        attributes: dict[str, Attribute] = {}
        for base in reversed(cls.__mro__[1:]):
            inherited = getattr(base, "_meta", None)
            if inherited is None:
                continue
            for attr_name, attribute in inherited.attributes.items():
                if attr_name in namespace:
                    continue
                # Each model owns its attribute objects: bind() records the model.
                own = copy.copy(attribute)
                setattr(cls, attr_name, own)
                attributes[attr_name] = own
        for attr_name, value in namespace.items():
            if isinstance(value, Attribute):
                if _reserved(attr_name):
                    raise DefinitionError(f"{name}.{attr_name}: {attr_name!r} is a reserved name; choose another")
                attributes[attr_name] = value
        primary = [n for n, a in attributes.items() if a.primary_key]
        if len(primary) > 1:
            raise DefinitionError(f"{name} declares two primary keys: {', '.join(primary)} (keep one)")
        if not primary:
            if "id" in attributes:
                raise DefinitionError(f"{name}.id must be the primary key (AutoUUID(), or primary_key=True)")
            implied = AutoUUID()
            implied.__set_name__(cls, "id")
            cls.id = implied  # type: ignore[attr-defined]
            attributes = {"id": implied, **attributes}
        pk = attributes[primary[0]] if primary else attributes["id"]
        if pk.null:
            raise DefinitionError(f"{name}.{pk.name}: a primary key cannot be null")
        if isinstance(pk, ByteStream | Pointer) or pk.allowed_indexes == ():
            raise DefinitionError(f"{name}.{pk.name}: a {type(pk).__name__} attribute cannot be the primary key")
        for attr_name, attribute in attributes.items():
            attribute.bind(cls, attr_name)  # type: ignore[arg-type]
        cls._meta = Options(cls, attributes, meta)  # type: ignore[arg-type,attr-defined]
        from .query import Manager

        cls.objects = Manager(cls)  # type: ignore[arg-type,attr-defined]
        cls.DoesNotExist = type("DoesNotExist", (DoesNotExist,), {"__module__": cls.__module__, "__qualname__": f"{name}.DoesNotExist"})  # type: ignore[attr-defined]
        cls.MultipleObjectsReturned = type(  # type: ignore[attr-defined]
            "MultipleObjectsReturned", (MultipleObjectsReturned,),
            {"__module__": cls.__module__, "__qualname__": f"{name}.MultipleObjectsReturned"},
        )
        model_name = cls._meta.name  # type: ignore[attr-defined]
        models.register(cls, cls._meta.namespace, model_name)  # type: ignore[arg-type,attr-defined]
        for pointer in _pending_related.pop(name, []) + _pending_related.pop(model_name, []):
            _attach_related(pointer)
        for pointer in cls._meta.pointers:  # type: ignore[attr-defined]
            if pointer.related_name:
                if isinstance(pointer.to, str) and pointer.to not in models:
                    _pending_related.setdefault(pointer.to, []).append(pointer)
                else:
                    _attach_related(pointer)
        return cls


def _attach_related(pointer: Pointer) -> None:
    from .relations import RelatedQuery

    target = pointer.target
    existing = target.__dict__.get(pointer.related_name or "")
    if (existing is not None and not isinstance(existing, RelatedQuery)) or pointer.related_name in target._meta.attributes:
        raise DefinitionError(
            f"{pointer.model_name}.{pointer.name}: related_name {pointer.related_name!r} clashes with "
            f"{target.__name__}.{pointer.related_name}"
        )
    setattr(target, pointer.related_name or "", RelatedQuery(pointer))


class ActiveRecord(metaclass=ModelBase):
    """The base class of models; ``Model`` is the same class.

    ``Model(**values)`` validates every value; ``save()`` stores the record;
    ``Model.objects`` queries the stored records.
    """

    _meta: ClassVar[Options]
    objects: ClassVar[Manager]
    DoesNotExist: ClassVar[type[DoesNotExist]]
    MultipleObjectsReturned: ClassVar[type[MultipleObjectsReturned]]

    _batch: Any = None  # the PointerLoader of the query that loaded the record
    _version = 0  # the stored version of a versioned record
    _deleted = 0  # the keys the last delete() deleted

    def __init__(self, **values: Any) -> None:
        attributes = type(self)._meta.attributes
        if not attributes.keys() >= values.keys():
            unknown = ", ".join(sorted(values.keys() - attributes.keys()))
            raise TypeError(f"{type(self).__name__} has no attribute(s) {unknown}; declared: {', '.join(attributes)}")
        self._data: dict[str, Any] = {}
        # Names assigned since the last load or save: a dict used as an ordered set, because a dict
        # of strings, unlike a set, is not tracked by the garbage collector (thousands of records).
        self._dirty: dict[str, None] = {}
        # The stored hash as loaded/saved, keyed by field name bytes (what the indexes were built from).
        self._stored: dict[bytes, bytes | None] | None = None
        self._pointers: dict[str, Any] = {}
        self._id_text: str | None = None
        for name, attribute in attributes.items():
            if name in values:
                attribute.__set__(self, values[name])
            elif not isinstance(attribute, ByteStream):
                self._data[name] = attribute.default_value()
                self._dirty[name] = None

    # -- identity ---------------------------------------------------------------
    @property
    def pk(self) -> Any:
        """Return the primary key value."""
        return self._data.get(type(self)._meta.pk.name)

    @property
    def is_saved(self) -> bool:
        """Tell whether the record was loaded from or saved to Redis."""
        return self._stored is not None

    def _keys(self) -> ModelKeys:
        """Return the key names of this record's partition (the model's when unpartitioned)."""
        meta = type(self)._meta
        if meta.partition is None:
            return meta.keys
        name = meta.partition.name
        stored = self._stored.get(meta.partition.field) if self._stored is not None else None
        if stored is not None:
            return meta.keys_for(stored.decode())
        value = self._data.get(name)
        if value is None:
            raise meta.partition.invalid(None, "a partitioned record needs its partition value")
        return meta.keys_for(meta.partition_text(value))

    def _ident(self) -> str:
        """Return the stored text of the primary key (cached until the primary key is assigned)."""
        ident = self._id_text
        if ident is None:
            pk = type(self)._meta.pk
            value = self._data.get(pk.name)
            if value is None:
                raise pk.invalid(None, "the record has no primary key value yet: save it first")
            ident = self._id_text = pk.to_text(value)
        return ident

    def __getitem__(self, name: str) -> Any:
        if name not in type(self)._meta.attributes:
            raise KeyError(f"{type(self).__name__} has no attribute {name!r}")
        return getattr(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in type(self)._meta.attributes:
            raise KeyError(f"{type(self).__name__} has no attribute {name!r}")
        setattr(self, name, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActiveRecord) or type(other)._meta is not type(self)._meta:
            return NotImplemented
        if self.pk is None:
            return self is other
        return bool(self.pk == other.pk)

    def __hash__(self) -> int:
        return hash((type(self)._meta.name, self.pk))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.pk!s}>"

    def to_dict(self) -> dict[str, Any]:
        """Return the attribute values (pointers as ids, streams left out)."""
        return {name: self._data.get(name) for name, a in type(self)._meta.attributes.items() if not isinstance(a, ByteStream)}

    def matches(self, kw: dict[str, Any] | None = None, **conditions: Any) -> bool:
        """Tell whether every ``attribute[__lookup]=value`` of ``kw`` (and ``conditions``) holds for this record."""
        from .query import parse_condition

        items = {**(kw or {}), **conditions}
        return all(parse_condition(type(self), key, value).test(self) for key, value in items.items())

    # -- loading -------------------------------------------------------------------
    @classmethod
    def _from_hash(cls, ident: str, raw: dict[Any, Any], pk: Any = None) -> ActiveRecord:
        """Build the record stored at id text ``ident`` from its hash (raising DecodeError naming the key).

        The primary key is ``pk`` when the caller has it (a validated id it
        asked for), else decoded from ``ident``.
        """
        meta = cls._meta
        if raw and isinstance(next(iter(raw)), str):  # a decode_responses client
            raw = {k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in raw.items()}
        get = raw.get
        try:
            data = {name: None if (value := get(field)) is None else decode(value) for name, field, decode in meta.decode_plan}
        except DECODE_ERRORS:
            raise cls._decode_error(ident, raw) from None
        if pk is None:
            try:
                pk = meta.pk.from_redis(ident.encode())
            except DECODE_ERRORS as error:
                raise DecodeError(f"cannot decode the id of record {ident!r} of {cls.__name__}: {error}") from None
        data[meta.pk.name] = pk
        for name, attribute in meta.read_defaults:
            if data[name] is None:
                data[name] = attribute.default_value()
        if get(meta.pk.field) is None:
            raw[meta.pk.field] = ident.encode()
        record = cls.__new__(cls)
        record._data = data
        record._stored = raw
        record._dirty = {}
        record._pointers = {}
        record._id_text = ident
        if meta.versioned:
            record._version = int(get(VERSION_FIELD.encode()) or 0)
        return record

    @classmethod
    def _decode_error(cls, ident: str, stored: dict[bytes, bytes | None]) -> DecodeError:
        """Find the field that does not decode and describe it, naming the key."""
        meta = cls._meta
        partition = meta.partition
        raw_partition = stored.get(partition.field) if partition is not None else None
        key = meta.keys_for(raw_partition.decode() if raw_partition else None).record(ident)
        for name, field, decode in meta.decode_plan:
            value = stored.get(field)
            if value is None:
                continue
            try:
                decode(value)
            except DECODE_ERRORS as error:
                return DecodeError(
                    f"cannot decode {cls.__name__}.{name} from field {name!r} of key {key!r} "
                    f"(stored {value[:80]!r}): {error}"
                )
        return DecodeError(f"cannot decode the record at key {key!r}")  # pragma: no cover

    def refresh(self) -> ActiveRecord:
        """Reload every attribute from Redis (raises DoesNotExist when the record is gone)."""
        return run_sync(self._refresh_steps(False))  # type: ignore[no-any-return]

    async def arefresh(self) -> ActiveRecord:
        """The asyncio form of :meth:`refresh`."""
        return await run_async(self._refresh_steps(True))  # type: ignore[no-any-return]

    def _refresh_steps(self, aio: bool) -> Steps[ActiveRecord]:
        fresh = yield from type(self).objects._get_steps(aio, {type(self)._meta.pk.name: self.pk})
        self._data, self._stored, self._version = fresh._data, fresh._stored, fresh._version
        self._dirty = {}
        self._pointers = {}
        return self

    def _pointer(self, attribute: Pointer) -> Any:
        """Return the record a Pointer attribute refers to, loading it (in one batch) when needed."""
        return run_sync(self._pointer_steps(attribute, False))

    async def arelated(self, name: str) -> Any:
        """Return the record the Pointer attribute ``name`` refers to, loading it without blocking the event loop.

        Attribute access cannot ``await``: in async code, read a pointer
        with ``await task.arelated("project")`` (the records of one query
        load their targets in one batch, as ``task.project`` does); once
        loaded, ``task.project`` returns it without I/O.
        """
        attribute = type(self)._meta.attributes.get(name)
        if not isinstance(attribute, Pointer):
            raise TypeError(f"{type(self).__name__}.{name} is not a Pointer attribute")
        return await run_async(self._pointer_steps(attribute, True))

    def _pointer_steps(self, attribute: Pointer, aio: bool) -> Steps[Any]:
        name = attribute.name
        if name in self._pointers:
            return self._pointers[name]
        ident = self._data.get(name)
        if ident is None:
            return None
        if self._batch is not None:
            yield from self._batch.load_pointers_steps(attribute, aio)
            if name in self._pointers:
                return self._pointers[name]
        target = attribute.target
        found = (yield from target.objects._get_many_steps(aio, [ident]))[0]
        if found is None and not attribute.null:
            raise target.DoesNotExist(
                f"{type(self).__name__}.{name} points to {target.__name__} {ident!s}, which does not exist "
                f"(declare null=True to read a dangling pointer as None)"
            )
        self._pointers[name] = found
        return found

    # -- writing --------------------------------------------------------------------
    @classmethod
    def create(cls, pipe: Any = None, **values: Any) -> ActiveRecord:
        """Build a record from ``values``, save it and return it."""
        record = cls(**values)
        record.save(pipe=pipe)
        return record

    @classmethod
    async def acreate(cls, **values: Any) -> ActiveRecord:
        """The asyncio form of :meth:`create`."""
        record = cls(**values)
        await record.asave()
        return record

    def _prepare(self) -> None:
        """Fill automatic values (auto_now, primary key) and check required ones before a save."""
        meta = type(self)._meta
        data = self._data
        if meta.auto_now or meta.auto_now_add:
            now = dt.datetime.now(dt.timezone.utc)
            for name in meta.auto_now:
                data[name] = now
                self._dirty[name] = None
            if self._stored is None:
                for name in meta.auto_now_add:
                    if data.get(name) is None:
                        data[name] = now
                        self._dirty[name] = None
        if data.get(meta.pk.name) is None:
            setattr(self, meta.pk.name, meta.pk.default_value())
            if data.get(meta.pk.name) is None:
                raise meta.pk.invalid(None, "a record needs a primary key value before it is saved")
        new = self._stored is None
        for attribute in meta.must_have:  # a loaded record: only what it writes (an old record may lack an added attribute)
            if data.get(attribute.name) is None and (new or attribute.name in self._dirty):
                raise attribute.invalid(None, "required" if attribute.required else "not nullable and has no value")
        if meta.partition is not None and self._stored is not None:
            self._check_partition_unchanged()
        if self._stored is None:
            for attribute in meta.required_streams:
                if data.get(attribute.name) is None:
                    raise attribute.invalid(None, "required")

    def _check_partition_unchanged(self) -> None:
        meta = type(self)._meta
        attribute = meta.partition
        assert attribute is not None and self._stored is not None
        stored = self._stored.get(attribute.field)
        value = self._data.get(attribute.name)
        if stored is not None and value is not None and meta.partition_text(value).encode() != stored:
            raise attribute.invalid(
                value, f"the partition of a saved record cannot change (it is {stored.decode()!r}); delete it and create a new one"
            )

    def _write_plain(self, names: Names, pipe: Any, client: Any = None) -> Steps[None]:
        """Write changes that touch no index with HSET/HDEL: one command is atomic by itself.

        Without ``pipe`` the commands are sent to ``client`` (the steps'
        only I/O); with one, queued.
        """
        meta = type(self)._meta
        attributes, data = meta.attributes, self._data
        written: dict[bytes, bytes | None] = {}
        pairs: list[Any] = []
        absent: list[bytes] = []
        for name in names:
            attribute = attributes[name]
            value = data.get(name)
            field = attribute.field
            if value is None:
                absent.append(field)
                written[field] = None
            else:
                encoded = written[field] = attribute.to_redis(value)
                pairs += (field, encoded)
        key = self._keys().record(self._ident())
        if pipe is None:
            if pairs:
                yield functools.partial(client.execute_command, "HSET", key, *pairs)
            if absent:
                yield functools.partial(client.execute_command, "HDEL", key, *absent)
        else:
            if isinstance(pipe, PipelineContext):  # an error reply is raised when the pipeline executes
                if pipe.name != meta.connection:
                    pipe = PipelineContext(pipe, name=meta.connection)
                queue = pipe.queue_command
            else:  # a raw redis-py pipeline
                queue = pipe.execute_command
            if pairs:
                queue("HSET", key, *pairs)
            if absent:
                queue("HDEL", key, *absent)
        assert self._stored is not None
        self._stored.update(written)
        dirty = self._dirty
        for name in names:
            dirty.pop(name, None)

    def _out_of_memory(self, delete: bool) -> OutOfMemoryError:
        """Return the error for a write Redis refused with -OOM (it wrote nothing: one script, or one HSET)."""
        return OutOfMemoryError(
            f"{type(self).__name__} {self.pk!s} was not {'deleted' if delete else 'saved'}: Redis's used memory is "
            "over its 'maxmemory' limit and no key may be evicted (maxmemory-policy noeviction, or no key the "
            "policy may evict); nothing was written"
        )

    def _run(self, names: Names, pipe: Any, delete: bool = False, computed: dict[str, F] | None = None,
             must_exist: bool = False) -> DeferredResult[int] | None:
        """Save (or delete) through the apply script: now (sync), or queued on ``pipe``; see :meth:`_run_steps`."""
        return run_sync(self._run_steps(names, pipe, False, delete, computed, must_exist))

    def _run_steps(self, names: Names, pipe: Any, aio: bool, delete: bool = False, computed: dict[str, F] | None = None,
                   must_exist: bool = False) -> Steps[DeferredResult[int] | None]:
        """Save (or delete) through the apply script: now, or queued on ``pipe``.

        Without ``pipe`` return ``None`` (``_settled`` tells ``"ok"`` or
        ``"gone"``); with a pipeline context, the :class:`PendingApply`.
        ``aio``: send on the model's asyncio client.
        """
        meta = type(self)._meta
        self._settled = "ok"
        plain = (not delete and not computed and not must_exist and self._stored is not None and not meta.versioned
                 and names and names <= meta.plain_names)
        stored = dict(self._stored) if self._stored is not None else {}
        ttl = meta.ttl_text if (self._stored is None and not delete) else ""
        change = None if plain else Change(self, names, stored, delete=delete, computed=computed, must_exist=must_exist, ttl=ttl)
        register = meta.partition is not None and not delete and self._stored is None
        if pipe is None:
            client = yield from client_steps(meta, aio)
            if change is None:
                try:
                    yield from self._write_plain(names, None, client)
                except redis.exceptions.OutOfMemoryError as error:
                    raise self._out_of_memory(delete) from error
            else:
                if register:
                    yield from failover_steps(client, lambda: self._register_steps(client))
                self._settled = yield from self._drive_steps(change, None, aio)
            return None
        if change is None:
            run_sync(self._write_plain(names, pipe))
            return None
        keys, args = change.compile()
        if isinstance(pipe, PipelineContext):
            if pipe.name != meta.connection:
                pipe = PipelineContext(pipe, name=meta.connection)  # join the batch on the model's connection
            native = meta.native_apply(pipe.asynchronous)  # (the sync client's first use reads the stored schema)
            if not meta.schema_stored and not delete and meta.partition is None:
                queue_schema(meta, pipe)
            if register:
                self._register(pipe)
            pending = PendingApply(change, pipe.asynchronous)
            if native:
                pipe.run_command(pending, NATIVE_APPLY.name, len(keys), *keys, *args)
            else:
                pipe.run_script(APPLY, keys, args, pending, batch=APPLY_BATCH)
            if delete and meta.partition is not None:
                pipe.hdel(meta.keys.partition_of, self._ident())
            pipe.on_execute(pending)
            return pending
        # A raw redis-py pipeline: the reply lands in its results.
        script = meta.apply_script()
        if not meta.schema_stored and not delete and meta.partition is None:
            queue_schema(meta, pipe)
        if register:
            self._register(pipe)
        if isinstance(pipe, RedisCluster | ClusterBatch):  # redis-py blocks evalsha() on cluster pipelines
            client = meta.client()
            if isinstance(client, RedisCluster):
                ensure_scripts(client, [script])
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        else:
            script(keys=keys, args=args, client=pipe)
        if delete and meta.partition is not None:
            pipe.hdel(meta.keys.partition_of, self._ident())
        return None

    def _drive(self, change: Change, status: str | None = None) -> str:
        """Send ``change`` until it settles; see :meth:`_drive_steps`."""
        return run_sync(self._drive_steps(change, status, False))

    def _drive_steps(self, change: Change, status: str | None, aio: bool) -> Steps[str]:
        """Send ``change`` until it settles (re-reading stale values, sweeping expired records); return ``ok`` or ``gone``.

        ``status`` is the outcome of an attempt already made (in a pipeline).
        Saves ride through a cluster failover: the script re-checks what it
        writes, so running it again is safe.
        """
        meta = type(self)._meta
        client = yield from client_steps(meta, aio)
        for _ in range(MAX_RETRIES):
            if status is None:
                keys, args = change.compile()
                try:
                    if native_apply(client):
                        reply = yield from ride(client, functools.partial(
                            client.execute_command, NATIVE_APPLY.name, len(keys), *keys, *args))
                    else:
                        reply = yield from script_steps(client, APPLY, keys, args)
                except redis.exceptions.OutOfMemoryError as error:
                    raise self._out_of_memory(change.delete) from error
                status = change.outcome(reply)
            if status in ("ok", "gone"):
                if status == "ok" and change.delete and meta.partition is not None:
                    yield from ride(client, lambda: client.hdel(meta.keys.partition_of, self._ident()))
                if status == "gone" and change.delete:
                    self._stored, self._deleted = None, 0
                    return "ok"
                return status
            if status == "stale":
                key = self._keys().record(self._ident())
                fields = change.reread_fields()
                change.reread((yield from ride(client, functools.partial(client.hmget, key, fields))))
            elif status == "schema":
                yield from store_schema_steps(meta, client)
            else:  # expired or sweep: remove the expired records of the partition
                yield from sweep_steps(meta, [self._keys()], client)
                if status == "expired" and not change.delete and not change.must_exist:  # saving an expired record stores it anew
                    change.stored, change.names = {}, meta.attribute_names
            status = None
        raise ConflictError(f"{type(self).__name__} {self.pk!s}: gave up after {MAX_RETRIES} concurrent changes")

    def _register(self, target: Any) -> None:
        """Queue the partition and the id -> partition entry on ``target`` (idempotent; before the save script)."""
        meta = type(self)._meta
        partition = self._keys().partition
        target.sadd(meta.keys.partitions, partition)
        target.hset(meta.keys.partition_of, self._ident(), partition)

    def _register_steps(self, client: Any) -> Steps[None]:
        """The steps of :meth:`_register` sent now, in one round trip."""
        batch = client.pipeline(transaction=False)
        self._register(batch)
        yield batch.execute

    def save(self, pipe: Any = None) -> dict[str, Any]:
        """Store the record atomically; return the keys written: ``{"hash": key, "strings": {attr: key}}``.

        A new record writes every attribute; a loaded one only those assigned
        since.  ``pipe`` joins a ``redpocket.pipeline()`` context or a
        redis-py pipeline (see the module docstring).  Raises
        :class:`ValidationError` (required values), :class:`UniqueError` or
        :class:`ConflictError`; a failed save writes nothing.
        """
        return run_sync(self._save_steps(pipe, False))  # type: ignore[no-any-return]

    async def asave(self) -> dict[str, Any]:
        """The asyncio form of :meth:`save` (on the ``connect_async()`` connection; in an ``apipeline()``, use ``save(pipe=)``)."""
        return await run_async(self._save_steps(None, True))  # type: ignore[no-any-return]

    def _save_steps(self, pipe: Any, aio: bool) -> Steps[dict[str, Any]]:
        meta = type(self)._meta
        self._prepare()
        names = meta.attribute_names if self._stored is None else set(self._dirty)
        yield from self._run_steps(names, pipe, aio)
        return self.keys()

    def keys(self) -> dict[str, Any]:
        """Return the Redis keys of this record: ``{"hash": key, "strings": {attr: key}}``."""
        meta = type(self)._meta
        ident = self._ident()
        keys = self._keys()
        return {"hash": keys.record(ident), "strings": {a.name: keys.stream(a.name, ident) for a in meta.streams}}

    def update(self, pipe: Any = None, **changes: Any) -> ActiveRecord:
        """Assign ``changes`` (validated) and store only those attributes (and ``auto_now`` ones), atomically.

        A value may be an :class:`F` expression (``views=F("views") + 1``):
        Redis computes it from the stored value inside the same atomic save,
        and the record then holds the result.  Other attributes assigned but
        not saved stay pending.  On an unsaved record this is ``save()``.
        Raises ``Model.DoesNotExist`` when an F() update finds the record
        deleted.
        """
        return run_sync(self._update_steps(pipe, False, changes))  # type: ignore[no-any-return]

    async def aupdate(self, **changes: Any) -> ActiveRecord:
        """The asyncio form of :meth:`update`."""
        return await run_async(self._update_steps(None, True, changes))  # type: ignore[no-any-return]

    def _update_steps(self, pipe: Any, aio: bool, changes: dict[str, Any]) -> Steps[ActiveRecord]:
        meta = type(self)._meta
        attributes = meta.attributes
        if not attributes.keys() >= changes.keys():
            unknown = next(name for name in changes if name not in attributes)
            raise TypeError(f"{type(self).__name__} has no attribute {unknown!r}; declared: {', '.join(attributes)}")
        computed = meta.expressions(changes)
        for name, value in changes.items():
            if name not in computed:
                attributes[name].__set__(self, value)
        if self._stored is None:
            if not computed:
                yield from self._save_steps(pipe, aio)
                return self
            self._prepare()
            yield from self._run_steps(meta.attribute_names - computed.keys(), pipe, aio, computed=computed)
        else:
            names: Names = changes.keys() - computed.keys()
            if meta.auto_now:
                now = dt.datetime.now(dt.timezone.utc)
                for name in meta.auto_now:
                    self._data[name] = now
                names = {*names, *meta.auto_now}
            yield from self._run_steps(names, pipe, aio, computed=computed or None, must_exist=bool(computed))
        if self._settled == "gone":
            raise type(self).DoesNotExist(f"{type(self).__name__} {self.pk!s} no longer exists; nothing was written")
        return self

    def _queue_update(self, values: dict[str, Any], computed: dict[str, F], pipe: PipelineContext) -> Any:
        """Queue an update of a loaded record that must still exist (``QuerySet.update``); return its PendingApply."""
        meta = type(self)._meta
        for name, value in values.items():
            self._data[name] = value
            self._pointers.pop(name, None)
        names = {*values, *meta.auto_now}
        if meta.auto_now:
            now = dt.datetime.now(dt.timezone.utc)
            for name in meta.auto_now:
                self._data[name] = now
        return self._run(names, pipe, computed=computed or None, must_exist=True)

    def incr(self, name: str, amount: int | float = 1, pipe: Any = None) -> Any:
        """Add ``amount`` to a numeric attribute atomically in Redis; return the new value.

        ``record.incr("views")`` is ``record.update(views=F("views") + 1)``:
        concurrent increments from any number of processes all count.  With
        a pipeline context, return a DeferredResult of the new value.
        """
        self.update(pipe=pipe, **{name: F(name) + amount})
        if isinstance(pipe, PipelineContext):
            deferred: DeferredResult[Any] = DeferredResult()
            pipe.on_execute(lambda: deferred.set(self._data.get(name)))
            return deferred
        return self._data.get(name)

    async def aincr(self, name: str, amount: int | float = 1) -> Any:
        """The asyncio form of :meth:`incr`: return the new value."""
        await self.aupdate(**{name: F(name) + amount})
        return self._data.get(name)

    # -- expiry ---------------------------------------------------------------------------
    def expire(self, seconds: float) -> bool:
        """Make the record expire in ``seconds``; return False when it does not exist.

        An expired record disappears at once from every read (see
        :mod:`.unit`), its index entries and unique claims are removed by
        the next read or write of the model.
        """
        return run_sync(self._set_expiry(_expiry_argument(seconds), False))  # type: ignore[no-any-return]

    async def aexpire(self, seconds: float) -> bool:
        """The asyncio form of :meth:`expire`."""
        return await run_async(self._set_expiry(_expiry_argument(seconds), True))  # type: ignore[no-any-return]

    def persist(self) -> bool:
        """Remove the record's expiry; return False when it does not exist."""
        return run_sync(self._set_expiry("persist", False))  # type: ignore[no-any-return]

    async def apersist(self) -> bool:
        """The asyncio form of :meth:`persist`."""
        return await run_async(self._set_expiry("persist", True))  # type: ignore[no-any-return]

    def _set_expiry(self, argument: str, aio: bool) -> Steps[bool]:
        meta = type(self)._meta
        keys = self._keys()
        client = yield from client_steps(meta, aio)
        ident = self._ident()
        return bool((yield from script_steps(client, EXPIRE, [keys.record(ident), keys.expires], [ident, argument])))

    def ttl(self) -> float | None:
        """Return the seconds left before the record expires, ``None`` when it does not expire.

        Raises ``Model.DoesNotExist`` when the record does not exist (or has expired).
        """
        return run_sync(self._ttl_steps(False))  # type: ignore[no-any-return]

    async def attl(self) -> float | None:
        """The asyncio form of :meth:`ttl`."""
        return await run_async(self._ttl_steps(True))  # type: ignore[no-any-return]

    def _ttl_steps(self, aio: bool) -> Steps[float | None]:
        meta = type(self)._meta
        keys = self._keys()
        client = yield from client_steps(meta, aio)
        ident = self._ident()

        def read() -> Steps[list[Any]]:
            batch = raw_pipeline(client)
            batch.exists(keys.record(ident))
            batch.zscore(keys.expires, ident)
            batch.time()
            return list((yield from execute(batch)))

        exists, deadline, (seconds, micros) = yield from failover_steps(client, read)
        left = None if deadline is None else (float(deadline) - (int(seconds) * 1000 + int(micros) // 1000)) / 1000
        if not exists or (left is not None and left <= 0):
            raise type(self).DoesNotExist(f"{type(self).__name__} {ident} does not exist (or has expired)")
        return left

    # -- deleting ---------------------------------------------------------------------------
    def delete(self, pipe: Any = None) -> Any:
        """Delete the record, its streams and its index entries atomically; return the number of keys deleted.

        Pointers to this record declared with ``on_delete`` are followed
        first (:mod:`.relations`): ``PROTECT`` raises :class:`ProtectedError`
        and nothing is deleted; ``CASCADE`` deletes the pointing records and
        ``SET_NULL`` clears their pointer, in the same batch (a MULTI/EXEC
        transaction on one server).  With a ``redpocket.pipeline()``
        context, return a DeferredResult of the number of keys; with a raw
        redis-py pipeline, ``None`` (the script's reply lands in the
        pipeline's results).
        """
        return run_sync(self._delete_steps(pipe, False))

    async def adelete(self) -> int:
        """The asyncio form of :meth:`delete`: return the number of keys deleted."""
        return await run_async(self._delete_steps(None, True))  # type: ignore[no-any-return]

    def _delete_steps(self, pipe: Any, aio: bool) -> Steps[Any]:
        if self.pk is None:
            return 0
        if type(self)._meta.dependents():
            from .relations import delete_with_dependents_steps, queue_dependents

            if pipe is None:
                return (yield from delete_with_dependents_steps([self], aio))
            queue_dependents([self], pipe)
        return (yield from self._delete_only_steps(pipe, aio))

    def _delete_only(self, pipe: Any = None) -> Any:
        """Delete this record alone (its pointers' ``on_delete`` already handled)."""
        return run_sync(self._delete_only_steps(pipe, False))

    def _delete_only_steps(self, pipe: Any, aio: bool) -> Steps[Any]:
        if self._stored is None and not isinstance(pipe, PipelineContext):
            # A raw pipeline cannot retry a stale delete: read what to unindex now.
            client = yield from client_steps(type(self)._meta, aio)
            change = Change(self, frozenset(), {})
            fields = change.reread_fields()
            key = self._keys().record(self._ident())
            change.reread((yield from ride(client, lambda: client.hmget(key, fields))))
            self._stored = change.stored
        self._deleted = 0
        deferred = yield from self._run_steps(frozenset(), pipe, aio, delete=True)
        if pipe is not None:
            return deferred
        return self._deleted


def _expiry_argument(seconds: float) -> str:
    """Return the expiry script's argument for ``seconds`` from now (milliseconds), checking the value."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(f"expire() takes a positive number of seconds, not {seconds!r}")
    return str(max(1, round(seconds * 1000)))


class PendingApply(DeferredResult[Any]):
    """A save or delete queued in a pipeline context: filled with the script's reply, then run to handle it.

    Once run, its result is the number of keys a delete deleted (what
    ``delete(pipe=)`` returns), or for a save 1 when stored, 0 when the
    record no longer existed (an F() update of a deleted record).  Running
    it gives the steps of the retries a stale or expired outcome needs,
    which the pipeline's driver (sync or asyncio: ``asynchronous``) runs.
    """

    __slots__ = ("asynchronous", "change")

    def __init__(self, change: Change, asynchronous: bool = False) -> None:
        super().__init__()
        self.change = change
        self.asynchronous = asynchronous

    def __call__(self) -> Steps[None]:
        change = self.change
        record = change.record
        try:
            status = change.outcome(self.result)
            if status not in ("ok", "gone"):
                status = yield from record._drive_steps(change, status, self.asynchronous)
            elif status == "gone" and change.delete:
                record._stored, record._deleted = None, 0
            if change.delete:
                self.set(record._deleted)
            else:
                self.set(1 if status == "ok" else 0)
        except Exception as error:
            self.set_error(error)
            raise


Model = ActiveRecord

"""Active records: ``class User(ActiveRecord): name = attributes.Unicode()``.

A model's metaclass builds ``_meta`` (attributes, primary key, indexes, key
names) and checks the declaration, raising :class:`DefinitionError` at class
creation.  A record is saved as one hash (see :mod:`.keys`); a save — the
record, its old index entries removed, its new ones added, unique claims
checked — is one Lua script, so it is atomic and one round trip.

Concurrency: a save writes only the attributes assigned since the record was
loaded, and the script first checks that the indexed attributes it rewrites
still hold the values this process saw; if another writer changed them, the
record's stored values are re-read and the save retried, so indexes never
disagree with the data.  With ``class Meta: versioned = True`` a save of a
record that changed since it was loaded raises :class:`ConflictError` instead.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import redis

from ..connections import DEFAULT, get_client
from ..errors import ConflictError, DecodeError, DefinitionError, DoesNotExist, MultipleObjectsReturned, UniqueError
from ..pipeline import PipelineContext
from .attributes import Attribute, AutoUUID, ByteStream, Pointer
from .keys import ModelKeys

if TYPE_CHECKING:
    from .query import Manager

APPLY_LUA = (Path(__file__).parent / "scripts" / "apply.lua").read_text()
ABSENT = b"\0absent"
VERSION_FIELD = "_version"
MAX_RETRIES = 25

RESERVED = frozenset(
    {"objects", "save", "delete", "create", "update", "refresh", "to_dict", "matches", "pk", "keys",
     "DoesNotExist", "MultipleObjectsReturned", "Meta", VERSION_FIELD}
)

registry: dict[str, type[ActiveRecord]] = {}
_pending_related: dict[str, list[Pointer]] = {}


class Options:
    """A model's ``_meta``: its attributes, primary key, indexes and key names."""

    def __init__(self, model: type[ActiveRecord], attributes: dict[str, Attribute], meta: Any) -> None:
        self.model = model
        self.name: str = getattr(meta, "name", model.__name__)
        self.namespace: str = getattr(meta, "namespace", "redpocket")
        self.connection: str = getattr(meta, "connection", DEFAULT)
        self.versioned: bool = bool(getattr(meta, "versioned", False))
        self.attributes = attributes
        primary = [a for a in attributes.values() if a.primary_key]
        self.pk: Attribute = primary[0]
        self.streams = [a for a in attributes.values() if isinstance(a, ByteStream)]
        self.fields = [a for a in attributes.values() if not isinstance(a, ByteStream) and not a.primary_key]
        self.indexed = [a for a in attributes.values() if (a.index or a.unique) and not a.primary_key]
        self.pointers = [a for a in attributes.values() if isinstance(a, Pointer)]
        self.keys = ModelKeys(self.namespace, self.name)
        self._scripts: dict[int, Any] = {}

    def client(self) -> redis.Redis:
        """Return the redis-py client of the model's connection."""
        return get_client(self.connection)

    def apply_script(self, client: Any) -> Any:
        """Return the save/delete script registered on ``client``."""
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = redis.commands.core.Script(client, APPLY_LUA)
        return script


class ModelBase(type):
    """Builds ``_meta``, ``objects`` and ``DoesNotExist`` for every ActiveRecord subclass."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> Any:
        meta = namespace.pop("Meta", None)
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if not any(isinstance(base, ModelBase) for base in bases):
            return cls  # ActiveRecord itself
        attributes: dict[str, Attribute] = {}
        for base in reversed(cls.__mro__[1:]):
            attributes.update(getattr(base, "_meta", None) and base._meta.attributes or {})  # type: ignore[attr-defined]
        for attr_name, value in namespace.items():
            if isinstance(value, Attribute):
                if attr_name in RESERVED or attr_name.startswith("_"):
                    raise DefinitionError(f"{name}.{attr_name}: {attr_name!r} is a reserved name; choose another")
                attributes[attr_name] = value
        primary = [n for n, a in attributes.items() if a.primary_key]
        if len(primary) > 1:
            raise DefinitionError(f"{name} declares two primary keys: {', '.join(primary)}")
        if not primary:
            if "id" in attributes:
                raise DefinitionError(f"{name}.id must be the primary key (AutoUUID(), or primary_key=True)")
            implied = AutoUUID()
            implied.__set_name__(cls, "id")
            setattr(cls, "id", implied)
            attributes = {"id": implied, **attributes}
        for attr_name, attribute in attributes.items():
            attribute.bind(cls, attr_name)  # type: ignore[arg-type]
        pk = attributes[primary[0]] if primary else attributes["id"]
        if pk.null:
            raise DefinitionError(f"{name}.{pk.name}: a primary key cannot be null")
        cls._meta = Options(cls, attributes, meta)  # type: ignore[arg-type,attr-defined]
        from .query import Manager

        cls.objects = Manager(cls)  # type: ignore[arg-type,attr-defined]
        cls.DoesNotExist = type("DoesNotExist", (DoesNotExist,), {"__module__": cls.__module__, "__qualname__": f"{name}.DoesNotExist"})  # type: ignore[attr-defined]
        cls.MultipleObjectsReturned = type("MultipleObjectsReturned", (MultipleObjectsReturned,), {"__module__": cls.__module__})  # type: ignore[attr-defined]
        model_name = cls._meta.name  # type: ignore[attr-defined]
        if model_name in registry and registry[model_name].__qualname__ != cls.__qualname__:
            pass  # a redefinition (tests, reloads): the newest class wins
        registry[model_name] = cls  # type: ignore[assignment]
        registry.setdefault(name, cls)  # type: ignore[arg-type]
        for pointer in _pending_related.pop(name, []) + _pending_related.pop(model_name, []):
            _attach_related(pointer)
        for pointer in cls._meta.pointers:  # type: ignore[attr-defined]
            if pointer.related_name:
                if isinstance(pointer.to, str) and pointer.to not in registry:
                    _pending_related.setdefault(pointer.to, []).append(pointer)
                else:
                    _attach_related(pointer)
        return cls


def _attach_related(pointer: Pointer) -> None:
    from .relations import RelatedQuery

    target = pointer.target
    existing = target.__dict__.get(pointer.related_name or "")
    if existing is not None and not isinstance(existing, RelatedQuery):
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

    def __init__(self, **values: Any) -> None:
        meta = type(self)._meta
        self._data: dict[str, Any] = {}
        self._dirty: set[str] = set()
        self._stored: dict[str, bytes | None] | None = None
        self._version = 0
        self._pointers: dict[str, Any] = {}
        self._batch: Any = None
        for name, attribute in meta.attributes.items():
            if name in values:
                setattr(self, name, values.pop(name))
            elif not isinstance(attribute, ByteStream):
                self._data[name] = attribute.default_value()
                self._dirty.add(name)
        if values:
            unknown = ", ".join(sorted(values))
            raise TypeError(f"{type(self).__name__} has no attribute(s) {unknown}; declared: {', '.join(meta.attributes)}")

    # -- identity ---------------------------------------------------------------
    @property
    def pk(self) -> Any:
        """Return the primary key value."""
        return self._data.get(type(self)._meta.pk.name)

    @property
    def is_saved(self) -> bool:
        """Tell whether the record was loaded from or saved to Redis."""
        return self._stored is not None

    def _ident(self) -> str:
        pk = type(self)._meta.pk
        return pk.to_redis(self.pk).decode()

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

    def matches(self, kw: dict[str, Any]) -> bool:
        """Tell whether every ``attribute=value`` of ``kw`` holds for this record."""
        from .query import parse_condition

        return all(parse_condition(type(self), key, value).test(self) for key, value in kw.items())

    # -- loading -------------------------------------------------------------------
    @classmethod
    def _from_hash(cls, ident: Any, raw: dict[Any, Any]) -> ActiveRecord:
        """Build a record from its stored hash (raising DecodeError naming the key)."""
        meta = cls._meta
        record = cls.__new__(cls)
        record._dirty = set()
        record._pointers = {}
        record._batch = None
        stored: dict[str, bytes | None] = {}
        data: dict[str, Any] = {}
        normalised = {(k.encode() if isinstance(k, str) else k): (v.encode() if isinstance(v, str) else v) for k, v in raw.items()}
        key = meta.keys.record(ident if isinstance(ident, str) else meta.pk.to_redis(ident).decode())
        for name, attribute in meta.attributes.items():
            if isinstance(attribute, ByteStream):
                continue
            value = normalised.get(name.encode())
            stored[name] = value
            if value is None:
                data[name] = None
                continue
            try:
                data[name] = attribute.from_redis(value)
            except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
                raise DecodeError(f"cannot decode {cls.__name__}.{name} from field {name!r} of key {key!r}: {error}") from None
        if data.get(meta.pk.name) is None:
            try:
                data[meta.pk.name] = meta.pk.clean(ident)
            except Exception as error:
                raise DecodeError(f"cannot decode the id of key {key!r}: {error}") from None
        record._data = data
        record._stored = stored
        version = normalised.get(VERSION_FIELD.encode())
        record._version = int(version) if version else 0
        return record

    def refresh(self) -> ActiveRecord:
        """Reload every attribute from Redis (raises DoesNotExist when the record is gone)."""
        fresh = type(self).objects.get(**{type(self)._meta.pk.name: self.pk})
        self._data, self._stored, self._version = fresh._data, fresh._stored, fresh._version
        self._dirty = set()
        self._pointers = {}
        return self

    def _pointer(self, attribute: Pointer) -> Any:
        """Return the record a Pointer attribute refers to, loading it (in one batch) when needed."""
        name = attribute.name
        if name in self._pointers:
            return self._pointers[name]
        ident = self._data.get(name)
        if ident is None:
            return None
        if self._batch is not None:
            self._batch.load_pointers(attribute)
            if name in self._pointers:
                return self._pointers[name]
        target = attribute.target
        found = target.objects.get_many([ident])[0]
        if found is None and not attribute.null:
            raise target.DoesNotExist(
                f"{type(self).__name__}.{name} points to {target.__name__} {ident!s}, which does not exist"
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

    def _prepare(self) -> None:
        meta = type(self)._meta
        now = dt.datetime.now(dt.timezone.utc)
        for name, attribute in meta.attributes.items():
            if getattr(attribute, "auto_now", False) or (getattr(attribute, "auto_now_add", False) and self._stored is None and self._data.get(name) is None):
                setattr(self, name, now)
        if self.pk is None:
            setattr(self, meta.pk.name, meta.pk.default_value())
        if self.pk is None:
            raise meta.pk.invalid(None, "a record needs a primary key value before it is saved")
        for name, attribute in meta.attributes.items():
            if (attribute.required or not attribute.null) and not isinstance(attribute, ByteStream | AutoUUID):
                if self._data.get(name) is None and not attribute.primary_key:
                    reason = "required" if attribute.required else "not nullable and has no value"
                    raise attribute.invalid(None, reason)
            if attribute.required and isinstance(attribute, ByteStream) and self._stored is None and name not in self._data:
                raise attribute.invalid(None, "required")

    def _change(self, names: set[str], stored: dict[str, bytes | None], delete: bool = False) -> tuple[list[Any], list[Any]]:
        """Build the KEYS and ARGV of the apply script for writing ``names`` (or deleting)."""
        meta = type(self)._meta
        keys = meta.keys
        ident = self._ident()
        script_keys: list[Any] = [keys.record(ident), keys.ids]
        key_index: dict[Any, int] = {}

        def k(key: Any) -> int:
            position = key_index.get(key)
            if position is None:
                script_keys.append(key)
                position = key_index[key] = len(script_keys)
            return position

        checks: list[Any] = []
        claims: list[Any] = []
        sets: list[Any] = []
        deletes: list[Any] = []
        ops: list[Any] = []
        for attribute in meta.attributes.values():
            name = attribute.name
            if isinstance(attribute, ByteStream):
                if delete:
                    ops += ["del", k(keys.stream(name, ident)), "", ""]
                elif name in names and name in self._data:
                    value = self._data[name]
                    if value is None:
                        ops += ["del", k(keys.stream(name, ident)), "", ""]
                    else:
                        ops += ["set", k(keys.stream(name, ident)), attribute.to_redis(value), ""]
                continue
            if attribute.primary_key:
                if not delete and stored.get(name) is None:
                    sets += [name, attribute.to_redis(self.pk)]
                continue
            if not delete and name not in names:
                continue
            old = stored.get(name)
            value = None if delete else self._data.get(name)
            new = None if value is None else attribute.to_redis(value)
            if not delete:
                if new is None:
                    deletes.append(name)
                else:
                    sets += [name, new]
            if not (attribute.index or attribute.unique):
                continue
            checks += [name, ABSENT if old is None else old]
            if old == new:
                continue
            if attribute.index == "equality":
                if old is not None:
                    ops += ["srem", k(keys.equality(name, old)), ident, ""]
                if new is not None:
                    ops += ["sadd", k(keys.equality(name, new)), ident, ""]
            elif attribute.index == "numeric":
                if new is not None:
                    ops += ["zadd", k(keys.numeric(name)), ident, repr(attribute.score(value))]
                elif old is not None:
                    ops += ["zrem", k(keys.numeric(name)), ident, ""]
            elif attribute.index == "prefix":
                if old is not None:
                    ops += ["zrem", k(keys.prefix(name)), old + b"\0" + ident.encode(), ""]
                if new is not None:
                    ops += ["zadd", k(keys.prefix(name)), new + b"\0" + ident.encode(), "0"]
            if attribute.unique:
                if old is not None:
                    ops += ["release", k(keys.unique(name)), old, ""]
                if new is not None:
                    claims += [k(keys.unique(name)), new, name]
        version = str(self._version) if meta.versioned else ""
        args: list[Any] = [ident, VERSION_FIELD if meta.versioned else "", version]
        args += [len(checks) // 2, *checks, len(claims) // 3, *claims, len(sets) // 2, *sets]
        args += [len(deletes), *deletes, len(ops) // 4, *ops, "1" if delete else "0"]
        return script_keys, args

    def _stored_now(self, client: Any) -> dict[str, bytes | None]:
        """Read the currently stored values of the indexed attributes (after a stale check)."""
        meta = type(self)._meta
        names = [a.name for a in meta.indexed]
        values = client.hmget(meta.keys.record(self._ident()), names) if names else []
        stored = {n: (v.encode() if isinstance(v, str) else v) for n, v in zip(names, values, strict=True)}
        stored[meta.pk.name] = meta.pk.to_redis(self.pk)
        return stored

    def _outcome(self, reply: Any, names: set[str], stored: dict[str, bytes | None], delete: bool) -> bool:
        """Handle the apply script's reply; return False when the save must be retried (stale)."""
        meta = type(self)._meta
        status = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        if status == "ok":
            self._version = int(reply[1]) if meta.versioned else 0
            if delete:
                self._stored = None
                self._dirty = set(meta.attributes)
                self._deleted = int(reply[2])
            else:
                merged = dict(stored)
                for attribute in meta.attributes.values():
                    if attribute.name in names and not isinstance(attribute, ByteStream):
                        value = self._data.get(attribute.name)
                        merged[attribute.name] = None if value is None else attribute.to_redis(value)
                merged[meta.pk.name] = meta.pk.to_redis(self.pk)
                self._stored = merged
                self._dirty = set()
            return True
        if status == "stale":
            return False
        if status == "unique":
            attr = reply[1].decode() if isinstance(reply[1], bytes) else reply[1]
            attribute = meta.attributes[attr]
            raise UniqueError(type(self).__name__, attr, self._data.get(attr), "another record already holds this unique value; nothing was written")
        if status == "conflict":
            raise ConflictError(
                f"{type(self).__name__} {self.pk!s} changed in Redis since it was loaded "
                f"(version {self._version}, now {reply[1]!r}); reload it with refresh() and retry"
            )
        raise RuntimeError(f"unexpected reply from the save script: {reply!r}")  # pragma: no cover

    def _run(self, names: set[str], pipe: Any, delete: bool = False) -> None:
        meta = type(self)._meta
        stored = dict(self._stored) if self._stored is not None else {}
        keys, args = self._change(names, stored, delete)
        if isinstance(pipe, PipelineContext):
            script = meta.apply_script(get_client(pipe.name if pipe.name != DEFAULT else meta.connection))
            reply = pipe.run_script(script, keys, args)

            def check() -> None:
                if not self._outcome(reply.result, names, stored, delete):
                    self._run(names, None, delete)

            pipe.on_execute(check)
            return
        if pipe is not None:  # a redis-py pipeline: the reply lands in its results
            script = meta.apply_script(pipe)
            script(keys=keys, args=args, client=pipe)
            return
        client = meta.client()
        script = meta.apply_script(client)
        for _ in range(MAX_RETRIES):
            reply = script(keys=keys, args=args)
            if self._outcome(reply, names, stored, delete):
                return
            stored = self._stored_now(client)
            keys, args = self._change(names, stored, delete)
        raise ConflictError(f"{type(self).__name__} {self.pk!s}: gave up after {MAX_RETRIES} concurrent changes")

    def save(self, pipe: Any = None) -> dict[str, Any]:
        """Store the record atomically; return the keys written: ``{"hash": key, "strings": {attr: key}}``.

        A new record writes every attribute; a loaded one only those assigned
        since.  ``pipe`` joins a ``redpocket.pipeline()`` context or a
        redis-py pipeline.  Raises :class:`ValidationError` (required values),
        :class:`UniqueError` or :class:`ConflictError`; a failed save writes nothing.
        """
        meta = type(self)._meta
        self._prepare()
        names = set(meta.attributes) if self._stored is None else set(self._dirty)
        self._run(names, pipe)
        return self.keys()

    def keys(self) -> dict[str, Any]:
        """Return the Redis keys of this record: ``{"hash": key, "strings": {attr: key}}``."""
        meta = type(self)._meta
        ident = self._ident()
        return {"hash": meta.keys.record(ident), "strings": {a.name: meta.keys.stream(a.name, ident) for a in meta.streams}}

    def update(self, pipe: Any = None, **changes: Any) -> ActiveRecord:
        """Assign ``changes`` (validated) and store only those attributes, atomically."""
        for name, value in changes.items():
            self[name] = value
        meta = type(self)._meta
        if self._stored is None:
            self.save(pipe=pipe)
            return self
        now = dt.datetime.now(dt.timezone.utc)
        names = set(changes)
        for attribute in meta.attributes.values():
            if getattr(attribute, "auto_now", False):
                setattr(self, attribute.name, now)
                names.add(attribute.name)
        self._run(names, pipe)
        return self

    def delete(self, pipe: Any = None) -> int:
        """Delete the record, its streams and its index entries atomically; return the number of keys deleted."""
        if self.pk is None:
            return 0
        if self._stored is None:
            self._stored = self._stored_now(type(self)._meta.client()) if pipe is None else {}
        self._deleted = 0
        self._run(set(), pipe, delete=True)
        return self._deleted


Model = ActiveRecord

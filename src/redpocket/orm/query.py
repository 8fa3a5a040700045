"""Queries: ``Model.objects.filter(...)`` and friends, answered by Redis where an index allows.

A query is generative and lazy (each method returns a new query; nothing is
sent until it is iterated, sliced, counted...).  Conditions on indexed
attributes are evaluated by Redis in one pipelined round trip: equality
indexes are sets, numeric indexes sorted sets (``ZRANGESTORE ... BYSCORE``),
prefix indexes lexicographic sorted sets; they are combined with
``ZINTERSTORE`` / ``ZDIFFSTORE`` into a scratch key with a TTL, which also
orders by an indexed numeric attribute and applies the slice (``ZRANGE``
with ``REV`` and a range) server-side.  Only the matching records are then
loaded, in a second pipelined round trip.

A condition on an attribute without an index still works: the model's id
set is read and every record loaded and tested in Python (a scan, one extra
batch, proportional to the model's size).  Ordering by an attribute without
a numeric index happens in Python.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import QueryError
from .attributes import Attribute, ByteStream, Pointer

if TYPE_CHECKING:
    from .model import ActiveRecord

PREFIX_LUA = (Path(__file__).parent / "scripts" / "prefix.lua").read_text()
SCRATCH_TTL = 60
LOAD_BATCH = 5000

RANGE_LOOKUPS = ("gt", "gte", "lt", "lte", "range")
LOOKUPS = ("exact", "in", *RANGE_LOOKUPS, "startswith")


@dataclass(frozen=True)
class Condition:
    """One ``attribute__lookup=value`` condition, with its value already validated."""

    attribute: Attribute
    lookup: str
    value: Any

    @property
    def by_redis(self) -> bool:
        """Tell whether an index lets Redis evaluate this condition."""
        index = self.attribute.index
        if self.attribute.primary_key:
            return self.lookup in ("exact", "in")
        if self.lookup in ("exact", "in"):
            return index is not None
        if self.lookup in RANGE_LOOKUPS:
            return index == "numeric"
        return self.lookup == "startswith" and index == "prefix"

    def test(self, record: ActiveRecord) -> bool:
        """Evaluate the condition on a loaded record, in Python."""
        value = record._data.get(self.attribute.name)
        lookup, wanted = self.lookup, self.value
        if lookup == "exact":
            return bool(value == wanted)
        if lookup == "in":
            return value in wanted
        if value is None:
            return False
        if lookup == "startswith":
            return bool(value.startswith(wanted))
        if lookup == "gt":
            return bool(value > wanted)
        if lookup == "gte":
            return bool(value >= wanted)
        if lookup == "lt":
            return bool(value < wanted)
        if lookup == "lte":
            return bool(value <= wanted)
        low, high = wanted
        return bool(low <= value <= high)


def parse_condition(model: type[ActiveRecord], key: str, value: Any) -> Condition:
    """Parse ``name__lookup=value`` for ``model``, validating the value like an assignment."""
    name, _, lookup = key.partition("__")
    lookup = lookup or "exact"
    attribute = model._meta.attributes.get(name)
    if attribute is None:
        raise QueryError(f"{model.__name__} has no attribute {name!r} (attributes: {', '.join(model._meta.attributes)})")
    if lookup not in LOOKUPS:
        raise QueryError(f"{model.__name__}.{name}: unknown lookup {lookup!r} (use one of {', '.join(LOOKUPS)})")
    if isinstance(attribute, ByteStream):
        raise QueryError(f"{model.__name__}.{name}: ByteStream attributes cannot be queried")

    def clean(item: Any) -> Any:
        if isinstance(attribute, Pointer):
            return attribute.convert(item) if item is not None else None
        return attribute.clean(item) if item is not None else None

    if lookup == "in":
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            raise QueryError(f"{model.__name__}.{name}__in takes a list of values, not {value!r}")
        return Condition(attribute, lookup, tuple(clean(v) for v in value))
    if lookup in RANGE_LOOKUPS:
        if not hasattr(attribute, "score") or attribute.natural_index != "numeric":
            raise QueryError(f"{model.__name__}.{name}__{lookup}: range lookups need a number, date or time attribute")
        if lookup == "range":
            try:
                low, high = value
            except (TypeError, ValueError):
                raise QueryError(f"{model.__name__}.{name}__range takes a (low, high) pair, not {value!r}") from None
            return Condition(attribute, lookup, (clean(low), clean(high)))
    if lookup == "startswith" and not isinstance(value, str | bytes):
        raise QueryError(f"{model.__name__}.{name}__startswith takes text, not {value!r}")
    if lookup == "startswith":
        return Condition(attribute, lookup, value)
    return Condition(attribute, lookup, clean(value))


class Plan:
    """The Redis commands that compute a query's ids, queued on one pipeline."""

    def __init__(self, model: type[ActiveRecord], pipe: Any) -> None:
        self.model = model
        self.keys = model._meta.keys
        self.pipe = pipe
        self.scratch: list[str] = []
        self.set_keys: set[Any] = {self.keys.ids}

    def temporary(self) -> str:
        key = self.keys.temporary()
        self.scratch.append(key)
        return key

    def source(self, condition: Condition) -> Any:
        """Queue the commands that put the ids matching ``condition`` in a key; return the key."""
        attribute, lookup, value = condition.attribute, condition.lookup, condition.value
        if lookup == "in":
            parts = [self.source(Condition(attribute, "exact", v)) for v in value]
            target = self.temporary()
            if parts:
                self.pipe.zunionstore(target, parts)
                self.pipe.expire(target, SCRATCH_TTL)
            return target
        name = attribute.name
        index = attribute.index
        if lookup == "exact" and value is None:
            raise QueryError(f"{self.model.__name__}.{name}: None cannot be looked up by an index")
        if index == "equality":
            key = self.keys.equality(name, attribute.to_redis(value))
            self.set_keys.add(key)
            return key
        if index == "numeric":
            if lookup == "exact":
                low = high = repr(attribute.score(value))
            elif lookup == "range":
                low, high = repr(attribute.score(value[0])), repr(attribute.score(value[1]))
            else:
                score = repr(attribute.score(value))
                low, high = {
                    "gt": ("(" + score, "+inf"), "gte": (score, "+inf"), "lt": ("-inf", "(" + score), "lte": ("-inf", score),
                }[lookup]
            target = self.temporary()
            self.pipe.execute_command("ZRANGESTORE", target, self.keys.numeric(name), low, high, "BYSCORE")
            self.pipe.expire(target, SCRATCH_TTL)
            return target
        # prefix index: members are b"value\0id"
        text = value.encode() if isinstance(value, str) else (attribute.to_redis(value) if lookup == "exact" else value)
        if lookup == "exact":
            low, high = b"[" + text + b"\0", b"(" + text + b"\x01"
        else:
            low, high = b"[" + text, b"(" + text + b"\xff"
        target = self.temporary()
        self.set_keys.add(target)
        script = self.model._meta.client().register_script(PREFIX_LUA)
        script(keys=[self.keys.prefix(name), target], args=[low, high, SCRATCH_TTL], client=self.pipe)
        return target

    def cleanup(self) -> None:
        if self.scratch:
            self.pipe.delete(*self.scratch)


class QuerySet:
    """A lazy, immutable query over one model; ``ResultSet`` is the same class (Repocket's name)."""

    def __init__(self, model: type[ActiveRecord], conditions: tuple[Condition, ...] = (), exclusions: tuple[Condition, ...] = (),
                 ordering: tuple[str, ...] = (), window: tuple[int, int | None] = (0, None)) -> None:
        self.model = model
        self.conditions = conditions
        self.exclusions = exclusions
        self.ordering = ordering
        self.window = window
        self._cache: list[ActiveRecord] | None = None

    def _clone(self, **changes: Any) -> QuerySet:
        values = {"conditions": self.conditions, "exclusions": self.exclusions, "ordering": self.ordering, "window": self.window}
        values.update(changes)
        return QuerySet(self.model, **values)

    # -- building -----------------------------------------------------------------
    def filter(self, **conditions: Any) -> QuerySet:
        """Return the records matching every ``attribute[__lookup]=value`` (AND)."""
        self._check_unsliced("filter")
        parsed = tuple(parse_condition(self.model, k, v) for k, v in conditions.items())
        return self._clone(conditions=self.conditions + parsed)

    def exclude(self, **conditions: Any) -> QuerySet:
        """Return the records not matching the given conditions (each one excluded)."""
        self._check_unsliced("exclude")
        parsed = tuple(parse_condition(self.model, k, v) for k, v in conditions.items())
        return self._clone(exclusions=self.exclusions + parsed)

    def order_by(self, *names: str) -> QuerySet:
        """Order by attributes; ``"-name"`` for descending."""
        self._check_unsliced("order_by")
        for name in names:
            if name.lstrip("-") not in self.model._meta.attributes:
                raise QueryError(f"{self.model.__name__} has no attribute {name.lstrip('-')!r} to order by")
        return self._clone(ordering=tuple(names))

    def all(self) -> QuerySet:
        """Return a copy of this query (all records when called on the manager)."""
        return self._clone()

    def _check_unsliced(self, what: str) -> None:
        if self.window != (0, None):
            raise QueryError(f"cannot {what}() a query once it is sliced")

    # -- planning -------------------------------------------------------------------
    @property
    def _python_conditions(self) -> list[Condition]:
        return [c for c in self.conditions if not c.by_redis]

    @property
    def _python_exclusions(self) -> list[Condition]:
        return [c for c in self.exclusions if not c.by_redis]

    def _server_order(self) -> tuple[Attribute, bool] | None:
        if len(self.ordering) != 1:
            return None
        name = self.ordering[0]
        attribute = self.model._meta.attributes[name.lstrip("-")]
        if attribute.index != "numeric":
            return None
        return attribute, name.startswith("-")

    def _fully_by_redis(self) -> bool:
        return not self._python_conditions and not self._python_exclusions

    def _ids(self, count_only: bool = False) -> Any:
        """Return ``(ids, sliced)``: the matching ids, ordered and sliced server-side when possible.

        With ``count_only`` and a query Redis answers alone, return the count instead.
        """
        meta = self.model._meta
        keys = meta.keys
        client = meta.client()
        pk_ids: set[str] | None = None
        redis_conditions = [c for c in self.conditions if c.by_redis and not c.attribute.primary_key]
        for condition in self.conditions:
            if condition.attribute.primary_key:
                wanted = condition.value if condition.lookup == "in" else (condition.value,)
                ids = {meta.pk.to_redis(v).decode() for v in wanted if v is not None}
                pk_ids = ids if pk_ids is None else pk_ids & ids
        exclusions = [c for c in self.exclusions if c.by_redis and not c.attribute.primary_key]
        excluded_pks = {
            meta.pk.to_redis(v).decode()
            for c in self.exclusions if c.attribute.primary_key
            for v in (c.value if c.lookup == "in" else (c.value,)) if v is not None
        }
        order = self._server_order()
        exact = self._fully_by_redis() and not excluded_pks and pk_ids is None
        start, stop = self.window

        sliced = False
        pipe = client.pipeline(transaction=False)
        plan = Plan(self.model, pipe)
        sources = [plan.source(c) for c in redis_conditions]
        if pk_ids is not None:
            if not pk_ids:
                return 0 if count_only and exact else ([], False)
            target = plan.temporary()
            plan.set_keys.add(target)
            pipe.sadd(target, *pk_ids)
            pipe.expire(target, SCRATCH_TTL)
            sources.append(target)
        if not sources:
            sources = [keys.ids]
        if order is not None:
            sources.append(keys.numeric(order[0].name))
        simple = len(sources) == 1 and not exclusions and order is None
        if simple:
            final = sources[0]
            reader = "set" if final in plan.set_keys else "zset"
        else:
            final = plan.temporary()
            weights = [0] * len(sources)
            if order is not None:
                weights[-1] = 1
            pipe.zinterstore(final, dict(zip(sources, weights, strict=True)) if order is not None else sources)
            if exclusions:
                removed = [plan.source(c) for c in exclusions]
                pipe.execute_command("ZDIFFSTORE", final, 1 + len(removed), final, *removed)
            pipe.expire(final, SCRATCH_TTL)
            reader = "zset"
        if count_only and exact:
            pipe.scard(final) if reader == "set" else pipe.zcard(final)
        elif reader == "set":
            pipe.smembers(final)
        else:
            descending = order is not None and order[1]
            sliced = exact and (order is not None or not self.ordering)
            if sliced:
                end = -1 if stop is None else stop - 1
                if stop is not None and stop <= start:
                    end = start - 1
                pipe.zrange(final, start, end, desc=descending)
            else:
                pipe.zrange(final, 0, -1, desc=descending)
        plan.cleanup()
        replies = pipe.execute()
        reply = replies[-2] if plan.scratch else replies[-1]
        if count_only and exact:
            return int(reply)
        ids = [i.decode() if isinstance(i, bytes) else i for i in reply]
        if reader == "set":
            ids.sort()
        if excluded_pks:
            ids = [i for i in ids if i not in excluded_pks]
        return ids, reader == "zset" and sliced

    # -- evaluation -----------------------------------------------------------------------
    def _fetch(self) -> list[ActiveRecord]:
        if self._cache is not None:
            return self._cache
        ids, sliced = self._ids()
        records = [r for r in self.model.objects.get_many(ids) if r is not None]
        python_conditions, python_exclusions = self._python_conditions, self._python_exclusions
        if python_conditions or python_exclusions:
            records = [
                r for r in records
                if all(c.test(r) for c in python_conditions) and not any(c.test(r) for c in python_exclusions)
            ]
        if self.ordering and self._server_order() is None:
            for name in reversed(self.ordering):
                attr = name.lstrip("-")
                present = [r for r in records if r._data.get(attr) is not None]
                missing = [r for r in records if r._data.get(attr) is None]
                present.sort(key=lambda r, a=attr: r._data[a], reverse=name.startswith("-"))
                records = present + missing
        if not sliced:
            start, stop = self.window
            records = records[start:stop]
        loader = PointerLoader(records)
        for record in records:
            record._batch = loader
        self._cache = records
        return records

    def _has_pk_filters(self) -> bool:
        return any(c.attribute.primary_key for c in (*self.conditions, *self.exclusions))

    def __iter__(self) -> Iterator[ActiveRecord]:
        return iter(self._fetch())

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            if item.step not in (None, 1):
                raise QueryError("query slices take no step")
            if (item.start or 0) < 0 or (item.stop is not None and item.stop < 0):
                if self._cache is None:
                    return list(self._fetch())[item]
                return self._cache[item]
            start, stop = self.window
            new_start = start + (item.start or 0)
            new_stop = stop if item.stop is None else start + item.stop
            if stop is not None and new_stop is not None:
                new_stop = min(new_stop, stop)
            clone = self._clone(window=(new_start, new_stop))
            return clone
        if self._cache is not None:
            return self._cache[item]
        if item < 0:
            return self._fetch()[item]
        found = self[item : item + 1]._fetch()
        if not found:
            raise IndexError("query index out of range")
        return found[0]

    def count(self) -> int:
        """Return the number of matching records (counted by Redis when the indexes allow)."""
        if self._cache is not None:
            return len(self._cache)
        if self._fully_by_redis() and not self._has_pk_filters():
            total = self._ids(count_only=True)
            start, stop = self.window
            return max(0, min(total, stop if stop is not None else total) - start)
        return len(self._fetch())

    def exists(self) -> bool:
        """Tell whether any record matches."""
        return self.count() > 0 if self._fully_by_redis() else bool(self[:1]._fetch())

    def first(self) -> ActiveRecord | None:
        """Return the first matching record, or ``None``."""
        found = self[:1]._fetch()
        return found[0] if found else None

    def get(self, **conditions: Any) -> ActiveRecord:
        """Return the one record matching; raise ``Model.DoesNotExist`` or ``MultipleObjectsReturned``."""
        query = self.filter(**conditions) if conditions else self
        found = query[:2]._fetch() if query._fully_by_redis() else query._fetch()[:2]
        if not found:
            described = ", ".join(f"{k}={v!r}" for k, v in conditions.items())
            raise self.model.DoesNotExist(f"no {self.model.__name__} matches {described or 'the query'}")
        if len(found) > 1:
            raise self.model.MultipleObjectsReturned(f"more than one {self.model.__name__} matches {conditions!r}")
        return found[0]

    def delete(self) -> int:
        """Delete every matching record (and its index entries); return how many were deleted."""
        from ..pipeline import pipeline

        records = self._fetch()
        if not records:
            return 0
        with pipeline(name=self.model._meta.connection) as pipe:
            for record in records:
                record.delete(pipe=pipe)
        self._cache = None
        return len(records)

    def __repr__(self) -> str:
        parts = [f"{c.attribute.name}__{c.lookup}={c.value!r}" for c in self.conditions]
        parts += [f"not {c.attribute.name}__{c.lookup}={c.value!r}" for c in self.exclusions]
        return f"<QuerySet {self.model.__name__} {' & '.join(parts) or 'all'} order={list(self.ordering)}>"


ResultSet = QuerySet


class PointerLoader:
    """Loads the records that the Pointer attributes of a result set refer to, one batch per attribute."""

    def __init__(self, records: Sequence[ActiveRecord]) -> None:
        self.records = list(records)
        self.loaded: set[str] = set()

    def load_pointers(self, attribute: Pointer) -> None:
        if attribute.name in self.loaded:
            return
        self.loaded.add(attribute.name)
        name = attribute.name
        wanted = [r for r in self.records if name not in r._pointers and r._data.get(name) is not None]
        ids = list(dict.fromkeys(r._data[name] for r in wanted))
        found = dict(zip(ids, attribute.target.objects.get_many(ids), strict=True))
        for record in wanted:
            target = found.get(record._data[name])
            if target is None and not attribute.null:
                continue  # the record's own access raises the clear error
            record._pointers[name] = target


class Manager:
    """``Model.objects``: the entry point of queries and bulk operations."""

    def __init__(self, model: type[ActiveRecord]) -> None:
        self.model = model

    def all(self) -> QuerySet:
        """Return every record."""
        return QuerySet(self.model)

    def filter(self, **conditions: Any) -> QuerySet:
        """See :meth:`QuerySet.filter`."""
        return self.all().filter(**conditions)

    def exclude(self, **conditions: Any) -> QuerySet:
        """See :meth:`QuerySet.exclude`."""
        return self.all().exclude(**conditions)

    def order_by(self, *names: str) -> QuerySet:
        """See :meth:`QuerySet.order_by`."""
        return self.all().order_by(*names)

    def get(self, **conditions: Any) -> ActiveRecord:
        """Return the one matching record (by id: one HGETALL)."""
        meta = self.model._meta
        if list(conditions) == [meta.pk.name]:
            ident = conditions[meta.pk.name]
            found = self.get_many([ident])[0]
            if found is None:
                raise self.model.DoesNotExist(f"no {self.model.__name__} with {meta.pk.name}={ident!s}")
            return found
        return self.all().get(**conditions)

    def count(self) -> int:
        """Return the number of records."""
        return self.all().count()

    def first(self) -> ActiveRecord | None:
        """Return a record, or ``None``."""
        return self.all().first()

    def exists(self) -> bool:
        """Tell whether any record exists."""
        return self.all().exists()

    def delete(self) -> int:
        """Delete every record of the model."""
        return self.all().delete()

    def create(self, pipe: Any = None, **values: Any) -> ActiveRecord:
        """Same as ``Model.create(**values)``."""
        return self.model.create(pipe=pipe, **values)

    def get_many(self, ids: Sequence[Any], pipe: Any = None) -> Any:
        """Load records by id in pipelined batches; ``None`` for ids that do not exist.

        With ``pipe`` (a ``redpocket.pipeline()`` context) returns a
        DeferredResult of the list, filled when the pipeline executes.
        """
        meta = self.model._meta
        pk = meta.pk
        idents = [pk.to_redis(pk.clean(i)).decode() for i in ids]
        keys = [meta.keys.record(i) for i in idents]
        if pipe is not None:
            from ..pipeline import PipelineContext

            if not isinstance(pipe, PipelineContext):
                raise QueryError("get_many(pipe=...) takes a redpocket.pipeline() context")
            refs = [pipe.hgetall(key) for key in keys]
            return pipe.then(refs[0] if refs else _ready([]), lambda _: self._build(idents, [r.result for r in refs]))
        client = meta.client()
        raws: list[Any] = []
        for offset in range(0, len(keys), LOAD_BATCH):
            batch = client.pipeline(transaction=False)
            for key in keys[offset : offset + LOAD_BATCH]:
                batch.hgetall(key)
            raws.extend(batch.execute())
        return self._build(idents, raws)

    def _build(self, idents: list[str], raws: list[Any]) -> list[Any]:
        records = [self.model._from_hash(i, raw) if raw else None for i, raw in zip(idents, raws, strict=True)]
        loader = PointerLoader([r for r in records if r is not None])
        for record in records:
            if record is not None:
                record._batch = loader
        return records

    def check(self) -> list[str]:
        """Compare every index with the data; return the discrepancies found (empty when consistent)."""
        from .maintenance import check_indexes

        return check_indexes(self.model)

    def rebuild_indexes(self, progress: bool | None = None) -> int:
        """Rebuild every index from the records (after adding an index); return the records indexed."""
        from .maintenance import rebuild_indexes

        return rebuild_indexes(self.model, progress=sys.stderr.isatty() if progress is None else progress)


def _ready(value: Any) -> Any:
    from ..pipeline import DeferredResult

    deferred: DeferredResult[Any] = DeferredResult()
    deferred.set(value)
    return deferred


__all__ = ["Condition", "Manager", "QuerySet", "ResultSet", "parse_condition"]

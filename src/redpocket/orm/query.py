"""Queries: ``Model.objects.filter(...)`` and friends, answered by Redis where an index allows.

A query is generative and lazy (each method returns a new query; nothing is
sent until it is iterated, sliced, counted...).  Conditions on indexed
attributes are evaluated by Redis in one pipelined round trip: equality
indexes are sets (a unique attribute's is its claims hash, read with
``HGET`` or copied to a set by ``scripts/unique.lua``), numeric indexes
sorted sets (``ZRANGESTORE ... BYSCORE``), prefix indexes lexicographic
sorted sets (``scripts/prefix.lua``); they are
combined with ``ZINTERSTORE`` / ``ZDIFFSTORE`` into scratch keys with a TTL
(deleted in the same round trip), which also order by an indexed numeric
attribute and apply the slice (``ZRANGE start stop [REV]``) server-side.
Only the matching records are then loaded, in a second pipelined round trip:
a filtered query costs 2 round trips.

What Redis cannot answer is evaluated in Python, on the records the indexed
conditions selected (or on every record of the model when there are none: a
scan, proportional to the model's size): conditions on attributes without
the index the lookup needs, ``None`` values, range lookups on the primary
key.  Ordering by several attributes, or by one without a numeric index,
happens in Python; records whose ordering value is ``None`` come last in
either direction (also when Redis orders).

``exclude(a=1, b=2)`` follows Django: it excludes the records matching *both*
conditions; ``exclude(a=1).exclude(b=2)`` excludes those matching either.
"""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from ..errors import QueryError, UniqueError, ValidationError
from ..pipeline import PipelineContext, raw_pipeline
from ..steps import Steps, run_async, run_sync
from .attributes import Attribute, Bytes, ByteStream, Unicode
from .io import client_steps, execute
from .keys import ModelKeys
from .loading import (
    PendingRecords,
    PointerLoader,
    build_records,
    load_records,
    load_records_steps,
    queue_sweep,
    reading,
    record_keys_steps,
)
from .schema import index_not_ready

if TYPE_CHECKING:
    from .model import ActiveRecord

PREFIX_LUA = (Path(__file__).parent / "scripts" / "prefix.lua").read_text()
UNIQUE_LUA = (Path(__file__).parent / "scripts" / "unique.lua").read_text()
SCRATCH_TTL = 60

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
        lookup, value = self.lookup, self.value
        if value is None or (lookup == "in" and None in value):
            return False  # no index holds None: tested in Python
        index = self.attribute.index
        if self.attribute.primary_key:
            return lookup in ("exact", "in")
        if lookup in ("exact", "in"):
            return index is not None
        if lookup in RANGE_LOOKUPS:
            return index == "numeric"
        return lookup == "startswith" and index == "prefix"

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
        # Type and normalisation only (a Pointer takes a record or an id); choices
        # and validators constrain stored values, not lookups.
        return None if item is None else attribute.convert(item)

    if lookup == "in":
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            raise QueryError(f"{model.__name__}.{name}__in takes a list of values, not {value!r}")
        return Condition(attribute, lookup, tuple(clean(v) for v in value))
    if lookup in RANGE_LOOKUPS:
        if attribute.natural_index != "numeric":
            raise QueryError(f"{model.__name__}.{name}__{lookup}: range lookups need a number, date or time attribute")
        if lookup == "range":
            try:
                low, high = value
            except (TypeError, ValueError):
                raise QueryError(f"{model.__name__}.{name}__range takes a (low, high) pair, not {value!r}") from None
            if low is None or high is None:
                raise QueryError(f"{model.__name__}.{name}__range bounds cannot be None")
            return Condition(attribute, lookup, (clean(low), clean(high)))
        if value is None:
            raise QueryError(f"{model.__name__}.{name}__{lookup} cannot compare with None")
    if lookup == "startswith":
        if not isinstance(attribute, Unicode | Bytes):
            raise QueryError(f"{model.__name__}.{name}__startswith needs a Unicode or Bytes attribute")
        if isinstance(value, str) and isinstance(attribute, Bytes):
            value = value.encode()
        if not isinstance(value, str if isinstance(attribute, Unicode) else bytes):
            raise QueryError(f"{model.__name__}.{name}__startswith takes {'text' if isinstance(attribute, Unicode) else 'bytes'}, not {value!r}")
        return Condition(attribute, lookup, value)
    return Condition(attribute, lookup, clean(value))


class Plan:
    """The Redis commands that compute a query's ids, queued on one pipeline."""

    def __init__(self, model: type[ActiveRecord], keys: ModelKeys, pipe: Any) -> None:
        self.model = model
        self.keys = keys
        self.pipe = pipe
        self.scratch: list[str] = []
        self.set_keys: set[Any] = {self.keys.ids}
        self.needs_ids = False

    def temporary(self) -> str:
        key = self.keys.temporary()
        self.scratch.append(key)
        return key

    def group(self, conditions: Sequence[Condition]) -> Any:
        """Queue the intersection of several conditions; return its key."""
        parts = [self.source(c) for c in conditions]
        if len(parts) == 1:
            return parts[0]
        target = self.temporary()
        self.pipe.zinterstore(target, parts)
        self.pipe.expire(target, SCRATCH_TTL)
        return target

    def source(self, condition: Condition) -> Any:
        """Queue the commands that put the ids matching ``condition`` in a key; return the key."""
        attribute, lookup, value = condition.attribute, condition.lookup, condition.value
        if attribute.primary_key:  # a set of the wanted ids, intersected with the model's ids
            wanted = value if lookup == "in" else (value,)
            target = self.temporary()
            self.set_keys.add(target)
            self.needs_ids = True
            if wanted:
                self.pipe.sadd(target, *{attribute.to_redis(v) for v in wanted})
                self.pipe.expire(target, SCRATCH_TTL)
            return target
        if lookup == "in":
            parts = [self.source(Condition(attribute, "exact", v)) for v in value]
            target = self.temporary()
            if parts:
                self.pipe.zunionstore(target, parts)
                self.pipe.expire(target, SCRATCH_TTL)
            return target
        name = attribute.name
        index = attribute.index
        if index == "equality" and attribute.unique:  # the claims hash maps the value to its record
            target = self.temporary()
            self.set_keys.add(target)
            self.pipe.eval(UNIQUE_LUA, 2, self.keys.unique(name), target, attribute.to_redis(value), SCRATCH_TTL)
            return target
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
            bounds = (b"[" + text + b"\0", b"(" + text + b"\x01")
        else:
            bounds = (b"[" + text, b"(" + text + b"\xff")
        target = self.temporary()
        self.set_keys.add(target)
        # EVAL, not EVALSHA: a pipeline with scripts would first cost a SCRIPT EXISTS round trip.
        self.pipe.eval(PREFIX_LUA, 2, self.keys.prefix(name), target, *bounds, SCRATCH_TTL)
        return target

    def cleanup(self) -> None:
        if self.scratch:  # DEL, not delete(): redis-py refuses a multi-key delete() in a cluster pipeline
            self.pipe.execute_command("DEL", *self.scratch)


def _sort_key(value: Any) -> Any:
    return value.name if isinstance(value, enum.Enum) else value


class QuerySet:
    """A lazy, immutable query over one model; ``ResultSet`` is the same class (Repocket's name)."""

    def __init__(self, model: type[ActiveRecord], conditions: tuple[Condition, ...] = (),
                 exclusions: tuple[tuple[Condition, ...], ...] = (),
                 ordering: tuple[str, ...] = (), window: tuple[int, int | None] = (0, None)) -> None:
        self.model = model
        self.conditions = conditions
        self.exclusions = exclusions
        self.ordering = ordering
        self.window = window
        self._cache: list[ActiveRecord] | None = None

    def _clone(self, **changes: Any) -> QuerySet:
        values: dict[str, Any] = {"conditions": self.conditions, "exclusions": self.exclusions, "ordering": self.ordering, "window": self.window}
        values.update(changes)
        return QuerySet(self.model, **values)

    # -- building -----------------------------------------------------------------
    def filter(self, **conditions: Any) -> QuerySet:
        """Return the records matching every ``attribute[__lookup]=value`` (AND)."""
        self._check_unsliced("filter")
        parsed = tuple(parse_condition(self.model, k, v) for k, v in conditions.items())
        return self._clone(conditions=self.conditions + parsed)

    def exclude(self, **conditions: Any) -> QuerySet:
        """Return the records not matching *all* the given conditions (Django's semantics)."""
        self._check_unsliced("exclude")
        parsed = tuple(parse_condition(self.model, k, v) for k, v in conditions.items())
        if not parsed:
            return self._clone()
        return self._clone(exclusions=(*self.exclusions, parsed))

    def order_by(self, *names: str) -> QuerySet:
        """Order by attributes; ``"-name"`` for descending (replaces any previous ordering)."""
        self._check_unsliced("order_by")
        for name in names:
            attribute = self.model._meta.attributes.get(name.lstrip("-"))
            if attribute is None:
                raise QueryError(f"{self.model.__name__} has no attribute {name.lstrip('-')!r} to order by")
            if isinstance(attribute, ByteStream):
                raise QueryError(f"{self.model.__name__}.{attribute.name}: a ByteStream cannot be ordered by")
        return self._clone(ordering=tuple(names))

    def all(self) -> QuerySet:
        """Return a copy of this query (all records when called on the manager)."""
        return self._clone()

    def _check_unsliced(self, what: str) -> None:
        if self.window != (0, None):
            raise QueryError(f"cannot {what}() a query once it is sliced")

    # -- planning -------------------------------------------------------------------
    def _partition_values(self) -> list[str] | None:
        """Return the partitions a partitioned model's query names (``tenant=`` / ``tenant__in=``), else ``None``."""
        attribute = self.model._meta.partition
        if attribute is None:
            return None
        chosen: set[str] | None = None
        for condition in self.conditions:
            if condition.attribute is not attribute or condition.lookup not in ("exact", "in"):
                continue
            values = condition.value if condition.lookup == "in" else (condition.value,)
            texts = {self.model._meta.partition_text(v) for v in values if v is not None}
            chosen = texts if chosen is None else chosen & texts
        return None if chosen is None else sorted(chosen)

    def _conditions(self) -> list[Condition]:
        """Return the conditions left once the partition conditions chose the partitions."""
        attribute = self.model._meta.partition
        if attribute is None:
            return list(self.conditions)
        return [c for c in self.conditions if not (c.attribute is attribute and c.lookup in ("exact", "in"))]

    def _python_conditions(self) -> list[Condition]:
        return [c for c in self._conditions() if not c.by_redis]

    def _python_exclusions(self) -> list[tuple[Condition, ...]]:
        return [g for g in self.exclusions if not all(c.by_redis for c in g)]

    def _server_order(self) -> tuple[Attribute, bool] | None:
        if len(self.ordering) != 1:
            return None
        name = self.ordering[0]
        attribute = self.model._meta.attributes[name.lstrip("-")]
        schema = self.model._meta.schema
        if attribute.index != "numeric" or (schema is not None and attribute.name in schema.unready):
            return None  # ordered in Python
        return attribute, name.startswith("-")

    def _check_indexes_ready(self) -> None:
        """Raise IndexNotReady when a condition needs an index the stored schema says is not built (see :mod:`.schema`)."""
        schema = self.model._meta.schema
        if schema is None or not schema.unready:
            return
        for condition in [*self._conditions(), *(c for group in self.exclusions for c in group)]:
            if condition.by_redis and not condition.attribute.primary_key and condition.attribute.name in schema.unready:
                error = index_not_ready(self.model, condition.attribute)
                if str(error):
                    raise error
                return  # built meanwhile by another process

    def _fully_by_redis(self) -> bool:
        return not self._python_conditions() and not self._python_exclusions()

    def _partitions(self, client: Any) -> Steps[list[ModelKeys]]:
        """Return the key names of the partitions the query reads (the model's own keys when unpartitioned)."""
        meta = self.model._meta
        if meta.partition is None:
            return [meta.keys]
        named = self._partition_values()
        if named is not None:
            return [meta.keys_for(value) for value in named]
        return (yield from meta.all_partition_keys_steps(client))

    def _ids(self, client: Any, count_only: bool = False) -> Steps[Any]:
        return (yield from reading(self.model._meta, client, lambda: self._read_ids(client, count_only)))

    def _read_ids(self, client: Any, count_only: bool = False) -> Steps[Any]:
        """Return ``(ids, record_keys, windowed)`` of the candidates, ordered and sliced server-side when possible.

        ``windowed`` tells that the slice was already applied.  With
        ``count_only`` on a query Redis answers alone, return the count.
        A query over several partitions runs every partition's commands in
        one batch (one round trip per node) and merges: the ids, sorted, and
        sliced only after the merge (each partition is cut at ``stop``).
        """
        self._check_indexes_ready()
        partitions = yield from self._partitions(client)
        exact = self._fully_by_redis()
        if count_only and exact and not partitions:
            return 0
        if not partitions:
            return [], [], True
        pipe = raw_pipeline(client)
        for keys in partitions:  # expired records leave before anything is read
            queue_sweep(pipe, self.model._meta, keys, loaded=True)
        start, stop = self.window
        window = self.window if len(partitions) == 1 else (0, stop)
        readers = [self._queue_ids(pipe, keys, count_only, window) for keys in partitions]
        replies = yield from execute(pipe)
        results = [read(replies) for read in readers]
        if count_only and exact:
            return sum(results)
        if len(partitions) == 1:
            ids, windowed = results[0]
            record = partitions[0].record
            return ids, [record(i) for i in ids], windowed
        merged = [(i, keys) for (ids, _), keys in zip(results, partitions, strict=True) for i in ids]
        windowed = False
        if not self.ordering:  # else ordered in Python after loading (see _fetch)
            merged.sort(key=lambda pair: pair[0])
            if exact:
                merged, windowed = merged[start:stop], True
        return [i for i, _ in merged], [keys.record(i) for i, keys in merged], windowed

    def _queue_ids(self, pipe: Any, keys: ModelKeys, count_only: bool, window: tuple[int, int | None]) -> Callable[[list[Any]], Any]:
        """Queue on ``pipe`` the commands that compute the ids of one partition; return the reader of their replies."""
        exact = self._fully_by_redis()
        order = None if count_only else self._server_order()
        start, stop = window
        # Redis slices only when nothing is filtered or ordered in Python afterwards.
        slice_in_redis = exact and (order is not None or not self.ordering)
        first = len(pipe)
        claim = self._direct_claim(keys, count_only and exact)
        if claim is not None:
            return claim(pipe)
        direct = self._direct_range(keys, order, count_only and exact, window)
        if direct is not None:
            return direct(pipe, slice_in_redis)
        plan = Plan(self.model, keys, pipe)
        sources = [plan.source(c) for c in self._conditions() if c.by_redis]
        if plan.needs_ids or not sources:
            sources.append(keys.ids)
        removed = [plan.group(g) for g in self.exclusions if all(c.by_redis for c in g)]
        if len(sources) == 1 and not removed:
            matched = sources[0]
        else:
            matched = plan.temporary()
            pipe.zinterstore(matched, sources)
            if removed:
                pipe.execute_command("ZDIFFSTORE", matched, 1 + len(removed), matched, *removed)
            pipe.expire(matched, SCRATCH_TTL)
        is_set = matched in plan.set_keys
        replies_wanted = 1
        if count_only and exact:
            pipe.scard(matched) if is_set else pipe.zcard(matched)
        elif order is not None:
            # Records with a value, by score; then those without one (absent from the index).
            attribute, descending = order
            ordered, nulls = plan.temporary(), plan.temporary()
            pipe.zinterstore(ordered, {matched: 0, keys.numeric(attribute.name): 1})
            pipe.execute_command("ZDIFFSTORE", nulls, 2, matched, keys.numeric(attribute.name))
            if slice_in_redis:  # _fetch() never asks for an empty window, so stop - 1 >= start
                pipe.zrange(ordered, start, -1 if stop is None else stop - 1, desc=descending)
                pipe.zcard(ordered)
                pipe.zrange(nulls, 0, -1 if stop is None else stop - 1)
            else:
                pipe.zrange(ordered, 0, -1, desc=descending)
                pipe.zcard(ordered)
                pipe.zrange(nulls, 0, -1)
            replies_wanted = 3
        elif is_set:
            pipe.smembers(matched)
        elif slice_in_redis:
            pipe.zrange(matched, start, -1 if stop is None else stop - 1)
        else:
            pipe.zrange(matched, 0, -1)
        plan.cleanup()
        last = len(pipe)

        def read(all_replies: list[Any]) -> Any:
            replies = all_replies[first:last]
            if plan.scratch:
                replies = replies[:-1]
            replies = replies[-replies_wanted:]
            if count_only and exact:
                return int(replies[0])
            if order is not None:
                head, head_count, tail = replies
                head = [i.decode() if isinstance(i, bytes) else i for i in head]
                tail = sorted(i.decode() if isinstance(i, bytes) else i for i in tail)
                if slice_in_redis:
                    skip = max(0, start - int(head_count))
                    until = None if stop is None else max(0, stop - int(head_count))
                    return head + tail[skip:until], True
                return head + tail, False
            ids = [i.decode() if isinstance(i, bytes) else i for i in replies[0]]
            if is_set:
                ids.sort()
                if slice_in_redis:
                    return ids[start:stop], True
                return ids, False
            return ids, slice_in_redis

        return read

    def _single_redis_condition(self) -> Condition | None:
        """Return the only condition Redis evaluates, when there is one and no exclusion Redis evaluates."""
        redis_conditions = [c for c in self._conditions() if c.by_redis]
        if len(redis_conditions) != 1 or any(all(c.by_redis for c in g) for g in self.exclusions):
            return None
        return redis_conditions[0]

    def _direct_claim(self, keys: ModelKeys, count_only: bool) -> Any:
        """Return a queuer for a query that is one unique value (read with one HGET of its claim), else None."""
        condition = self._single_redis_condition()
        if condition is None or condition.lookup != "exact":
            return None
        attribute = condition.attribute
        if not attribute.unique or attribute.index != "equality" or attribute.primary_key:
            return None
        key, value = keys.unique(attribute.name), attribute.to_redis(condition.value)

        def queue(pipe: Any) -> Callable[[list[Any]], Any]:
            position = len(pipe)
            pipe.hget(key, value)

            def read(replies: list[Any]) -> Any:
                owner = replies[position]
                ids = [] if owner is None else [owner.decode() if isinstance(owner, bytes) else owner]
                return len(ids) if count_only else (ids, False)

            return read

        return queue

    def _direct_range(self, keys: ModelKeys, order: tuple[Attribute, bool] | None, count_only: bool,
                      window: tuple[int, int | None]) -> Any:
        """Return a queuer for a query that is one numeric-index condition (read with one ZRANGE), else None."""
        condition = self._single_redis_condition()
        if condition is None:
            return None
        attribute = condition.attribute
        if attribute.index != "numeric" or attribute.primary_key or condition.lookup == "in":
            return None
        if order is not None and order[0] is not attribute:
            return None
        score = attribute.score
        value = condition.value
        low, high = {
            "exact": lambda: (repr(score(value)),) * 2,
            "range": lambda: (repr(score(value[0])), repr(score(value[1]))),
            "gt": lambda: ("(" + repr(score(value)), "+inf"),
            "gte": lambda: (repr(score(value)), "+inf"),
            "lt": lambda: ("-inf", "(" + repr(score(value))),
            "lte": lambda: ("-inf", repr(score(value))),
        }[condition.lookup]()
        key = keys.numeric(attribute.name)
        descending = order is not None and order[1]
        start, stop = window

        def queue(pipe: Any, slice_in_redis: bool) -> Callable[[list[Any]], Any]:
            position = len(pipe)
            if count_only:
                pipe.zcount(key, low, high)
                return lambda replies: int(replies[position])
            limit: tuple[Any, ...] = ()
            if slice_in_redis and (start or stop is not None):
                limit = ("LIMIT", start, -1 if stop is None else stop - start)
            if descending:  # ZRANGE ... BYSCORE REV takes the bounds high first
                pipe.execute_command("ZRANGE", key, high, low, "BYSCORE", "REV", *limit)
            else:
                pipe.execute_command("ZRANGE", key, low, high, "BYSCORE", *limit)
            return lambda replies: ([i.decode() if isinstance(i, bytes) else i for i in replies[position]], slice_in_redis)

        return queue

    # -- evaluation -----------------------------------------------------------------------
    def _fetch(self) -> list[ActiveRecord]:
        return run_sync(self._fetch_steps(False))

    def _fetch_steps(self, aio: bool) -> Steps[list[ActiveRecord]]:
        """Return the steps loading the matching records (on the asyncio client with ``aio``); cached."""
        if self._cache is not None:
            return self._cache
        start, stop = self.window
        if stop is not None and stop <= start:
            self._cache = []
            return self._cache
        client = yield from client_steps(self.model._meta, aio)
        ids, keys, windowed = yield from self._ids(client)
        # The ids were read after the sweep, in the round trip before: no second sweep.
        loaded = yield from load_records_steps(self.model, client, ids, keys, partitions=[])
        records = [r for r in loaded if r is not None]
        python_conditions, python_exclusions = self._python_conditions(), self._python_exclusions()
        if python_conditions or python_exclusions:
            records = [
                r for r in records
                if all(c.test(r) for c in python_conditions)
                and not any(all(c.test(r) for c in group) for group in python_exclusions)
            ]
        if self.ordering and (self._server_order() is None or (not windowed and self.model._meta.partition is not None)):
            for name in reversed(self.ordering):
                attr = name.lstrip("-")
                present = [r for r in records if r._data.get(attr) is not None]
                missing = [r for r in records if r._data.get(attr) is None]
                present.sort(key=lambda r, a=attr: _sort_key(r._data[a]), reverse=name.startswith("-"))  # type: ignore[misc]
                records = present + missing
        if not windowed:
            records = records[start:stop]
        PointerLoader.attach(self.model, records)
        self._cache = records
        return records

    def __iter__(self) -> Iterator[ActiveRecord]:
        return iter(self._fetch())

    async def __aiter__(self) -> AsyncIterator[ActiveRecord]:
        """Iterate in async code: ``[r async for r in qs]`` (the records load in one batch first)."""
        for record in await run_async(self._fetch_steps(True)):
            yield record

    async def afetch(self) -> list[ActiveRecord]:
        """Return the matching records as a list, loaded on the asyncio connection (``list(qs)`` of async code)."""
        return await run_async(self._fetch_steps(True))  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            if item.step not in (None, 1):
                raise QueryError("query slices take no step")
            if (item.start or 0) < 0 or (item.stop is not None and item.stop < 0):
                return self._fetch()[item]
            start, stop = self.window
            new_start = start + (item.start or 0)
            new_stop = stop if item.stop is None else start + item.stop
            if stop is not None and new_stop is not None:
                new_stop = min(new_stop, stop)
            if new_stop is not None and new_stop < new_start:
                new_stop = new_start
            clone = self._clone(window=(new_start, new_stop))
            if self._cache is not None:
                clone._cache = self._cache[item]
            return clone
        if not isinstance(item, int):
            raise TypeError(f"query indices must be integers or slices, not {type(item).__name__}")
        if self._cache is not None or item < 0:
            return self._fetch()[item]
        found = self[item : item + 1]._fetch()
        if not found:
            raise IndexError("query index out of range")
        return found[0]

    def count(self) -> int:
        """Return the number of matching records (counted by Redis when the indexes allow: one round trip)."""
        return run_sync(self._count_steps(False))  # type: ignore[no-any-return]

    async def acount(self) -> int:
        """The asyncio form of :meth:`count`."""
        return await run_async(self._count_steps(True))  # type: ignore[no-any-return]

    def _count_steps(self, aio: bool) -> Steps[int]:
        if self._cache is not None:
            return len(self._cache)
        if self._fully_by_redis():
            client = yield from client_steps(self.model._meta, aio)
            total = yield from self._ids(client, count_only=True)
            start, stop = self.window
            return max(0, min(total, stop if stop is not None else total) - start)
        return len((yield from self._fetch_steps(aio)))

    def exists(self) -> bool:
        """Tell whether any record matches."""
        return run_sync(self._exists_steps(False))  # type: ignore[no-any-return]

    async def aexists(self) -> bool:
        """The asyncio form of :meth:`exists`."""
        return await run_async(self._exists_steps(True))  # type: ignore[no-any-return]

    def _exists_steps(self, aio: bool) -> Steps[bool]:
        if self._cache is not None:
            return bool(self._cache)
        if self._fully_by_redis():
            return (yield from self._count_steps(aio)) > 0
        return bool((yield from self[:1]._fetch_steps(aio)))

    def first(self) -> ActiveRecord | None:
        """Return the first matching record (in the query's order, else by id), or ``None``."""
        return run_sync(self._first_steps(False))  # type: ignore[no-any-return]

    async def afirst(self) -> ActiveRecord | None:
        """The asyncio form of :meth:`first`."""
        return await run_async(self._first_steps(True))  # type: ignore[no-any-return]

    def _first_steps(self, aio: bool) -> Steps[ActiveRecord | None]:
        found = yield from self[:1]._fetch_steps(aio)
        return found[0] if found else None

    def get(self, **conditions: Any) -> ActiveRecord:
        """Return the one record matching; raise ``Model.DoesNotExist`` or ``Model.MultipleObjectsReturned``."""
        return run_sync(self._get_steps(False, conditions))  # type: ignore[no-any-return]

    async def aget(self, **conditions: Any) -> ActiveRecord:
        """The asyncio form of :meth:`get`."""
        return await run_async(self._get_steps(True, conditions))  # type: ignore[no-any-return]

    def _get_steps(self, aio: bool, conditions: dict[str, Any]) -> Steps[ActiveRecord]:
        try:
            query = self.filter(**conditions) if conditions else self
        except ValidationError:
            pk = self.model._meta.pk.name
            if pk not in conditions and f"{pk}__exact" not in conditions:
                raise
            raise self.model.DoesNotExist(f"no {self.model.__name__} with {pk}={conditions.get(pk)!r} (not a valid id)") from None
        found = yield from query[:2]._fetch_steps(aio)
        if not found:
            raise self.model.DoesNotExist(f"no {self.model.__name__} matches {query._describe()}")
        if len(found) > 1:
            raise self.model.MultipleObjectsReturned(f"more than one {self.model.__name__} matches {query._describe()}")
        return found[0]

    def get_or_create(self, defaults: dict[str, Any] | None = None, **conditions: Any) -> tuple[ActiveRecord, bool]:
        """Return ``(record, created)``: the one record matching ``conditions``, else one created from them and ``defaults``.

        As Django's: the conditions are plain ``attribute=value`` ones (no
        lookups).  Two callers racing on a unique attribute: one creates,
        the other's save raises :class:`UniqueError` and it reads the winner's record.
        """
        return run_sync(self._get_or_create_steps(False, defaults, conditions))  # type: ignore[no-any-return]

    async def aget_or_create(self, defaults: dict[str, Any] | None = None, **conditions: Any) -> tuple[ActiveRecord, bool]:
        """The asyncio form of :meth:`get_or_create`."""
        return await run_async(self._get_or_create_steps(True, defaults, conditions))  # type: ignore[no-any-return]

    def _get_or_create_steps(self, aio: bool, defaults: dict[str, Any] | None,
                             conditions: dict[str, Any]) -> Steps[tuple[ActiveRecord, bool]]:
        lookups = [key for key in conditions if "__" in key]
        if lookups:
            raise QueryError(f"get_or_create() takes attribute=value conditions, not the lookup {lookups[0]!r}")
        try:
            return (yield from self._get_steps(aio, conditions)), False
        except self.model.DoesNotExist:
            pass
        record = self.model(**{**conditions, **(defaults or {})})
        try:
            yield from record._save_steps(None, aio)
        except UniqueError:
            return (yield from self._get_steps(aio, conditions)), False
        return record, True

    def delete(self) -> int:
        """Delete every matching record (and its streams and index entries); return how many were deleted."""
        return run_sync(self._delete_steps(False))  # type: ignore[no-any-return]

    async def adelete(self) -> int:
        """The asyncio form of :meth:`delete`."""
        return await run_async(self._delete_steps(True))  # type: ignore[no-any-return]

    def _delete_steps(self, aio: bool) -> Steps[int]:
        records = yield from self._fetch_steps(aio)
        if not records:
            return 0
        meta = self.model._meta
        if meta.dependents():
            from .relations import delete_with_dependents_steps

            yield from delete_with_dependents_steps(records, aio)
            self._cache = None
            return len(records)
        pipe = PipelineContext(name=meta.connection, asynchronous=aio)
        for record in records:
            record.delete(pipe=pipe)
        yield from pipe.execute_steps()
        self._cache = None
        return len(records)

    def update(self, **changes: Any) -> int:
        """Store ``changes`` in every matching record; return the number of records changed.

        Values may be :class:`F` expressions (``views=F("views") + 1``),
        computed by Redis from each record's stored value.  Each record's
        change is one atomic save keeping its indexes and unique claims;
        the records are selected first, then all changed in one pipelined
        batch, and a record deleted in between is not counted (nor
        re-created).
        """
        return run_sync(self._update_steps(False, changes))  # type: ignore[no-any-return]

    async def aupdate(self, **changes: Any) -> int:
        """The asyncio form of :meth:`update`."""
        return await run_async(self._update_steps(True, changes))  # type: ignore[no-any-return]

    def _update_steps(self, aio: bool, changes: dict[str, Any]) -> Steps[int]:
        meta = self.model._meta
        unknown = [name for name in changes if name not in meta.attributes]
        if unknown:
            raise QueryError(f"{self.model.__name__} has no attribute {unknown[0]!r} to update")
        computed = meta.expressions(changes)
        values = {name: meta.attributes[name].clean(value) for name, value in changes.items() if name not in computed}
        if meta.pk.name in values:
            raise QueryError(f"update() cannot change the primary key {self.model.__name__}.{meta.pk.name}")
        records = yield from self._fetch_steps(aio)
        if not records:
            return 0
        pipe = PipelineContext(name=meta.connection, asynchronous=aio)
        pending = [record._queue_update(values, computed, pipe) for record in records]
        yield from pipe.execute_steps()
        self._cache = None
        return sum(int(p.result) for p in pending)

    def _describe(self) -> str:
        parts = [f"{c.attribute.name}__{c.lookup}={c.value!r}" for c in self.conditions]
        parts += ["not (" + " & ".join(f"{c.attribute.name}__{c.lookup}={c.value!r}" for c in g) + ")" for g in self.exclusions]
        return " & ".join(parts) or "the query"

    def __repr__(self) -> str:
        return f"<QuerySet {self.model.__name__} {self._describe()} order={list(self.ordering)} window={self.window}>"


ResultSet = QuerySet


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
        return run_sync(self._get_steps(False, conditions))  # type: ignore[no-any-return]

    async def aget(self, **conditions: Any) -> ActiveRecord:
        """The asyncio form of :meth:`get`."""
        return await run_async(self._get_steps(True, conditions))  # type: ignore[no-any-return]

    def _get_steps(self, aio: bool, conditions: dict[str, Any]) -> Steps[ActiveRecord]:
        meta = self.model._meta
        if list(conditions) == [meta.pk.name]:
            ident = conditions[meta.pk.name]
            try:
                found = (yield from self._get_many_steps(aio, [ident]))[0]
            except ValidationError:  # a malformed id names no record
                raise self.model.DoesNotExist(f"no {self.model.__name__} with {meta.pk.name}={ident!r} (not a valid id)") from None
            if found is None:
                raise self.model.DoesNotExist(f"no {self.model.__name__} with {meta.pk.name}={ident!s}")
            return found
        return (yield from self.all()._get_steps(aio, conditions))

    def count(self) -> int:
        """Return the number of records."""
        return self.all().count()

    async def acount(self) -> int:
        """The asyncio form of :meth:`count`."""
        return await self.all().acount()

    def first(self) -> ActiveRecord | None:
        """Return a record, or ``None``."""
        return self.all().first()

    async def afirst(self) -> ActiveRecord | None:
        """The asyncio form of :meth:`first`."""
        return await self.all().afirst()

    def exists(self) -> bool:
        """Tell whether any record exists."""
        return self.all().exists()

    async def aexists(self) -> bool:
        """The asyncio form of :meth:`exists`."""
        return await self.all().aexists()

    def delete(self) -> int:
        """Delete every record of the model."""
        return self.all().delete()

    async def adelete(self) -> int:
        """The asyncio form of :meth:`delete`."""
        return await self.all().adelete()

    def update(self, **changes: Any) -> int:
        """Change every record of the model (see :meth:`QuerySet.update`); return how many were changed."""
        return self.all().update(**changes)

    async def aupdate(self, **changes: Any) -> int:
        """The asyncio form of :meth:`update`."""
        return await self.all().aupdate(**changes)

    def get_or_create(self, defaults: dict[str, Any] | None = None, **conditions: Any) -> tuple[ActiveRecord, bool]:
        """See :meth:`QuerySet.get_or_create`."""
        return self.all().get_or_create(defaults, **conditions)

    async def aget_or_create(self, defaults: dict[str, Any] | None = None, **conditions: Any) -> tuple[ActiveRecord, bool]:
        """The asyncio form of :meth:`get_or_create`."""
        return await self.all().aget_or_create(defaults, **conditions)

    def create(self, pipe: Any = None, **values: Any) -> ActiveRecord:
        """Same as ``Model.create(**values)``."""
        return self.model.create(pipe=pipe, **values)

    async def acreate(self, **values: Any) -> ActiveRecord:
        """Same as ``await Model.acreate(**values)``."""
        return await self.model.acreate(**values)

    def get_many(self, ids: Sequence[Any], pipe: Any = None) -> Any:
        """Load records by id in pipelined batches; ``None`` for ids that do not exist.

        With ``pipe`` a ``redpocket.pipeline()`` context, return a
        DeferredResult of the list, filled when the pipeline executes.  With
        a raw redis-py pipeline, queue one HGETALL per id and return a
        :class:`PendingRecords`: after ``pipe.execute()``, pass its results
        to ``pending.resolve(results)`` to get the records.
        """
        if pipe is None:
            return run_sync(self._get_many_steps(False, ids))
        meta = self.model._meta
        pks, idents = self._idents(ids)
        if meta.partition is not None:
            raise QueryError(
                f"{self.model.__name__} is partitioned: get_many() finds each record's partition first, "
                "so it cannot join a pipeline; call it without pipe="
            )
        record_key = meta.keys.record
        keys = [record_key(i) for i in idents]

        if isinstance(pipe, PipelineContext):
            if pipe.name != meta.connection:
                pipe = PipelineContext(pipe, name=meta.connection)
            queue_sweep(pipe, meta, meta.keys)
            refs = [pipe.hgetall(key) for key in keys]
            return pipe.then(refs[0] if refs else _ready([]), lambda _: build_records(self.model, idents, [r.result for r in refs], pks))
        if isinstance(pipe, redis.client.Pipeline | redis.cluster.ClusterPipeline):
            queue_sweep(pipe, meta, meta.keys)
            position = len(pipe)
            for key in keys:
                pipe.hgetall(key)
            return PendingRecords(self.model, idents, position, pks)
        raise QueryError(f"get_many(pipe=...) takes a redpocket.pipeline() context or a redis-py pipeline, not {pipe!r}")

    async def aget_many(self, ids: Sequence[Any]) -> list[Any]:
        """The asyncio form of :meth:`get_many` (in an ``apipeline()``, use ``get_many(ids, pipe=)``)."""
        return await run_async(self._get_many_steps(True, ids))  # type: ignore[no-any-return]

    def _idents(self, ids: Sequence[Any]) -> tuple[list[Any], list[str]]:
        """Return the primary keys of ``ids`` (validated) and their stored texts."""
        pk = self.model._meta.pk
        convert, to_text = pk.convert, pk.to_text
        pks = [convert(i) for i in ids]  # the records' primary keys: nothing to decode
        return pks, [to_text(value) for value in pks]

    def _get_many_steps(self, aio: bool, ids: Sequence[Any]) -> Steps[list[Any]]:
        meta = self.model._meta
        pks, idents = self._idents(ids)
        client = yield from client_steps(meta, aio)
        if meta.partition is not None:
            keys_found = yield from record_keys_steps(self.model, client, idents)
            tags = {k.partition(":id:")[0] for k in keys_found if k is not None}
            partitions = [p for p in (yield from meta.all_partition_keys_steps(client)) if p.tag in tags]
            return (yield from load_records_steps(self.model, client, idents, keys_found, pks, partitions))
        return (yield from load_records_steps(self.model, client, idents, None, pks))

    def _load(self, idents: list[str], keys: Sequence[str | None] | None = None, pks: Sequence[Any] | None = None,
              partitions: Sequence[ModelKeys] | None = None) -> list[Any]:
        """See :func:`.loading.load_records`."""
        return load_records(self.model, idents, keys, pks, partitions)

    # Maintenance runs the sync implementation on the model's sync connection; the a-forms run it
    # in a worker thread, so an async service can call it without blocking its event loop.
    def check(self) -> list[str]:
        """Compare every index with the data; return the discrepancies found (empty when consistent)."""
        from .maintenance import check_indexes

        return check_indexes(self.model)

    async def acheck(self) -> list[str]:
        """:meth:`check` in a worker thread (on the model's sync connection)."""
        from .maintenance import check_indexes

        return await asyncio.to_thread(check_indexes, self.model)

    def migrate(self, progress: bool | None = None, on_batch: Any = None) -> Any:
        """Apply the difference between the stored schema and the class; return a :class:`~.schema.MigrationReport`.

        Builds new indexes online (resumable; a progress bar on a terminal,
        or ``progress=True``), fills defaults of added attributes, rewrites
        values whose type changed (or raises :class:`MigrationError` before
        writing anything), drops removed indexes and deletes removed
        attributes' fields.  ``on_batch(what, done, total)`` is called after
        each batch.  See :mod:`redpocket.orm.schema`.
        """
        from .schema import migrate

        return migrate(self.model, progress=progress, on_batch=on_batch)

    async def amigrate(self, progress: bool | None = None, on_batch: Any = None) -> Any:
        """:meth:`migrate` in a worker thread (on the model's sync connection); the asyncio client re-reads the schema after."""
        from .schema import migrate

        report = await asyncio.to_thread(migrate, self.model, progress, on_batch)
        self.model._meta._async_schema_client = None
        return report

    def rebuild_indexes(self, progress: bool | None = None) -> int:
        """Rebuild every index from the records (after adding an index); return the records indexed."""
        from .maintenance import rebuild_indexes

        return rebuild_indexes(self.model, progress=sys.stderr.isatty() if progress is None else progress)

    async def arebuild_indexes(self, progress: bool | None = None) -> int:
        """:meth:`rebuild_indexes` in a worker thread (on the model's sync connection)."""
        from .maintenance import rebuild_indexes

        count = await asyncio.to_thread(rebuild_indexes, self.model, sys.stderr.isatty() if progress is None else progress)
        self.model._meta._async_schema_client = None
        return count


def _ready(value: Any) -> Any:
    from ..pipeline import DeferredResult

    deferred: DeferredResult[Any] = DeferredResult()
    deferred.set(value)
    return deferred


__all__ = ["Condition", "Manager", "PendingRecords", "QuerySet", "ResultSet", "parse_condition"]

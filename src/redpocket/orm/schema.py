"""The stored schema of a model, index readiness, and ``migrate()``.

Each model keeps what it was last migrated to in the hash
``{ns:Model}:schema`` (field ``attributes``: JSON, one entry per attribute
with its type, index kind, uniqueness and default; ``version``: bumped by
every migration; ``build``: the cursor of an index build under way).  The
first use of a model in a process (per connection) reads it, one round
trip, and compares it with the class:

- **an index declared but not built** (a new ``index=``/``unique=``, an
  index kind or type that changed): saves maintain it at once, but a query
  that needs it raises :class:`IndexNotReady`, naming the command that
  builds it — ``Model.objects.migrate()`` or ``redpocket migrate
  module:Model`` — unless the model says ``class Meta: migrate = "auto"``,
  which builds it online on first use instead.  Ordering by such an
  attribute sorts in Python (a correct, slower answer).
- **an attribute added with a default**: old records read the default
  until ``migrate()`` writes it into them.
- **an attribute added without a default**: old records read ``None``,
  and saving them does not fail on it (only records that assign it are
  validated).
- **a removed attribute or index**: ignored on reads; ``migrate()``
  deletes the fields and the index keys.

``migrate()`` applies the whole difference: fills defaults, rewrites values
whose type changed (refusing with :class:`MigrationError`, before writing
anything, when one does not convert), builds new indexes online, drops the
removed ones, deletes removed attributes' fields, and stores the new schema.
The build walks the ids in order, in batches, and indexes each record
with ``scripts/index_one.lua``, which adds the entry only if the record
still holds the value read: a save made meanwhile by the new class has
maintained the index itself, so the build is correct under concurrent
writes (by processes running the new class).  After every batch the last id
done is stored: an interrupted build resumes after it.  On a terminal it
draws a progress bar.

A model with no records has no stored schema: the save that creates its
first record stores the class's (``scripts/apply.lua`` asks for it), and
the delete or expiry of its last record deletes it, so an emptied model
leaves no key behind.  Records written before schemas existed take the
class that first meets them as their schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DecodeError, IndexNotReady, MigrationError, ValidationError
from ..pipeline import failover_steps, raw_pipeline
from ..steps import Steps, run_sync
from . import attributes as attribute_types
from .attributes import ByteStream
from .io import execute, ride
from .keys import key_pattern
from .loading import load_records, scan_keys, sweep
from .unit import INDEX_ONE_LUA, index_kinds

if TYPE_CHECKING:
    from .attributes import Attribute
    from .keys import ModelKeys
    from .model import ActiveRecord, Options

BATCH = 500
FILL_LUA = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) end return 0"


def describe(attribute: Attribute) -> dict[str, Any]:
    """Return the stored description of one attribute."""
    default = attribute.default_value() if not attribute.primary_key else None
    return {
        "type": type(attribute).__name__,
        "index": attribute.index,
        "unique": attribute.unique,
        "default": None if default is None or isinstance(attribute, ByteStream) else attribute.to_redis(default).decode("latin-1"),
    }


def declared(meta: Options) -> dict[str, dict[str, Any]]:
    """Return the schema the class declares."""
    return {name: describe(attribute) for name, attribute in meta.attributes.items()}


@dataclass
class SchemaState:
    """What a process knows of a model's stored schema: the differences with the class that matter to reads."""

    stored: dict[str, dict[str, Any]]
    version: int
    unready: dict[str, str] = field(default_factory=dict)  # attribute -> why its index is not ready
    read_defaults: list[Attribute] = field(default_factory=list)  # added attributes with a default
    retyped: dict[str, str] = field(default_factory=dict)  # attribute -> its stored type

    @property
    def current(self) -> bool:
        """Tell whether the stored schema is exactly the class's."""
        return not self.unready and not self.read_defaults and not self.retyped


def compare(meta: Options, stored: dict[str, dict[str, Any]], version: int) -> SchemaState:
    """Compare a stored schema with the class."""
    state = SchemaState(stored, version)
    for name, attribute in meta.attributes.items():
        if attribute.primary_key:
            continue
        old = stored.get(name)
        now = describe(attribute)
        if old is not None and old["type"] != now["type"]:
            state.retyped[name] = old["type"]
        if attribute.index is not None:
            if old is None:
                state.unready[name] = "the attribute is new"
            elif old["type"] != now["type"]:
                state.unready[name] = f"its type changed from {old['type']} to {now['type']}"
            elif old["index"] != now["index"] or (now["unique"] and not old["unique"]):
                state.unready[name] = f"its index changed from {old['index'] or 'none'}{' unique' if old['unique'] else ''}"
        if old is None and attribute.default is not attribute_types.NOTHING and not isinstance(attribute, ByteStream):
            state.read_defaults.append(attribute)
    return state


def _decode_stored(raw: dict[Any, Any]) -> tuple[dict[str, dict[str, Any]] | None, int, dict[str, Any] | None]:
    raw = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()}
    if "attributes" not in raw:
        return None, 0, None
    build = json.loads(raw["build"]) if raw.get("build") else None
    return json.loads(raw["attributes"]), int(raw.get("version", 1)), build


def load_state(meta: Options, client: Any) -> SchemaState:
    """Read the stored schema (storing the class's when there is none) and compare it with the class."""
    return run_sync(load_state_steps(meta, client))


def load_state_steps(meta: Options, client: Any) -> Steps[SchemaState]:
    """The steps of :func:`load_state` on ``client`` (sync or asyncio)."""
    key = meta.keys.schema

    def read() -> Any:
        return client.hgetall(key)

    stored, version, _build = _decode_stored((yield from ride(client, read)))
    if stored is None:
        # No schema: a model without records (its first record stores it, see ``scripts/apply.lua``),
        # or records written before schemas existed, which take the class as their schema.
        if meta.partition is None and not int((yield from ride(client, lambda: client.scard(meta.keys.ids)))):
            meta.schema_stored = False
            return SchemaState(declared(meta), 0)
        yield from store_schema_steps(meta, client)
        stored, version, _build = _decode_stored((yield from ride(client, read)))
        assert stored is not None
    return compare(meta, stored, version)


def store_schema(meta: Options, client: Any) -> None:
    """Store the class's schema when the model has none (idempotent: HSETNX)."""
    run_sync(store_schema_steps(meta, client))


def store_schema_steps(meta: Options, client: Any) -> Steps[None]:
    """The steps of :func:`store_schema` on ``client`` (sync or asyncio)."""
    now = json.dumps(declared(meta), sort_keys=True)

    def write() -> Steps[None]:
        batch = raw_pipeline(client)
        batch.hsetnx(meta.keys.schema, "attributes", now)
        batch.hsetnx(meta.keys.schema, "version", 1)
        yield from execute(batch)

    yield from failover_steps(client, write)
    meta.schema_stored = True


def queue_schema(meta: Options, pipe: Any) -> None:
    """Queue the storing of the class's schema on ``pipe``, before the first record a pipeline creates."""
    now = json.dumps(declared(meta), sort_keys=True)
    pipe.hsetnx(meta.keys.schema, "attributes", now)
    pipe.hsetnx(meta.keys.schema, "version", 1)
    meta.schema_stored = True


def apply_state(meta: Options, state: SchemaState) -> None:
    """Make reads and queries follow ``state`` (defaults of added attributes, indexes not ready)."""
    meta.schema = state
    meta.read_defaults = [(a.name, a) for a in state.read_defaults]


def synchronise(meta: Options, client: Any) -> None:
    """Compare the stored schema with the class on first use; with ``Meta.migrate = "auto"``, migrate at once."""
    run_sync(synchronise_steps(meta, client))


def synchronise_steps(meta: Options, client: Any, aio: bool = False) -> Steps[None]:
    """The steps of :func:`synchronise` on ``client`` (an asyncio one with ``aio``)."""
    state = yield from load_state_steps(meta, client)
    apply_state(meta, state)
    if not state.current and meta.auto_migrate:
        if aio:  # migrations run on the model's sync connection, in a worker thread (see Manager.amigrate)
            yield lambda: asyncio.to_thread(migrate, meta.model)
        else:
            migrate(meta.model)


def refresh(meta: Options, client: Any) -> SchemaState:
    """Re-read the stored schema (another process may have migrated it) and apply it."""
    state = load_state(meta, client)
    apply_state(meta, state)
    return state


def index_not_ready(model: type[ActiveRecord], attribute: Attribute) -> IndexNotReady:
    """Build the error of a query needing an index that is not built, re-reading the schema first."""
    meta = model._meta
    state = refresh(meta, meta.client())
    reason = state.unready.get(attribute.name)
    if reason is None:
        return IndexNotReady("")  # built meanwhile by another process: the caller retries
    module = model.__module__
    return IndexNotReady(
        f"the index of {model.__name__}.{attribute.name} is not built yet ({reason}): build it with "
        f"{model.__name__}.objects.migrate() or `redpocket migrate {module}:{model.__qualname__}` "
        f"(or declare class Meta: migrate = \"auto\" to build it on first use)"
    )


def mark_indexes_built(model: type[ActiveRecord]) -> None:
    """Record in the stored schema that every declared index is built (after ``rebuild_indexes()``)."""
    meta = model._meta
    client = meta.client()
    state = load_state(meta, client)
    if state.version == 0:  # no records, no stored schema: nothing to mark
        return
    stored = dict(state.stored)
    for name, attribute in meta.attributes.items():
        if name in stored and name not in state.retyped:
            stored[name] = {**stored[name], "index": attribute.index, "unique": attribute.unique}
    client.hset(meta.keys.schema, mapping={"attributes": json.dumps(stored, sort_keys=True), "version": state.version + 1})
    apply_state(meta, compare(meta, stored, state.version + 1))


# -- migrate ---------------------------------------------------------------------------------
@dataclass
class MigrationReport:
    """What ``migrate()`` did."""

    model: str
    version: int = 0
    built: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    filled: dict[str, int] = field(default_factory=dict)
    rewritten: dict[str, int] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    missing_required: dict[str, int] = field(default_factory=dict)
    indexed: int = 0

    def __str__(self) -> str:
        parts = [f"{self.model}: schema version {self.version}"]
        for label, items in (("built indexes", self.built), ("dropped indexes", self.dropped), ("removed attributes", self.removed)):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        for label, counts in (("filled defaults", self.filled), ("rewrote values", self.rewritten),
                              ("records without a required value", self.missing_required)):
            if counts:
                parts.append(f"{label}: " + ", ".join(f"{k} ({v})" for k, v in counts.items()))
        return "; ".join(parts)


Progress = Callable[[str, int, int], None]


def _bar(model: str) -> Progress:
    def draw(what: str, done: int, total: int) -> None:
        width = 40
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{model}: {what} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()

    return draw


def migrate(model: type[ActiveRecord], progress: bool | None = None, on_batch: Progress | None = None) -> MigrationReport:
    """Apply the difference between the stored schema and the class (see the module docstring)."""
    meta = model._meta
    client = meta.client()
    state = load_state(meta, client)
    report = MigrationReport(model.__name__)
    if state.version == 0:  # no records and no stored schema: the class is the schema already
        return report
    draw = _bar(model.__name__) if (sys.stderr.isatty() if progress is None else progress) else None

    def tick(what: str, done: int, total: int) -> None:
        if draw is not None:
            draw(what, done, total)
        if on_batch is not None:
            on_batch(what, done, total)

    partitions = meta.all_partition_keys(client)
    for keys in partitions:
        sweep(meta, [keys], client)
    total = sum(int(client.scard(keys.ids)) for keys in partitions)
    stored = state.stored
    # 1. type changes: check every value converts before rewriting any.
    retyped = {name: meta.attributes[name] for name in state.retyped}
    if retyped:
        _check_conversions(model, partitions, retyped, stored)
        for name, attribute in retyped.items():
            report.rewritten[name] = _rewrite(model, partitions, attribute, stored[name], tick, total)
            _drop_index(client, partitions, name)
    # 2. defaults of added attributes.
    for attribute in state.read_defaults:
        report.filled[attribute.name] = _fill(model, partitions, attribute, tick, total)
    # 3. new indexes, built online and resumably.
    for name in state.unready:
        if name not in retyped and stored.get(name, {}).get("index") not in (None, meta.attributes[name].index):
            _drop_index(client, partitions, name)  # the index kind changed: the old keys go
        report.indexed += _build(model, partitions, meta.attributes[name], tick, total)
        report.built.append(name)
    # 4. removed indexes and attributes.
    for name, old in stored.items():
        current = meta.attributes.get(name)
        if current is None:
            _delete_fields(model, partitions, name, old, tick, total)
            report.removed.append(name)
        if old.get("index") and (current is None or current.index is None):
            _drop_index(client, partitions, name)
            report.dropped.append(name)
        elif old.get("unique") and current is not None and not current.unique:
            _drop_claims(client, partitions, name)
            report.dropped.append(f"{name} (unique claims)")
    for attribute in meta.must_have:
        if attribute.name not in stored and attribute.default is attribute_types.NOTHING and total:
            missing = _count_missing(model, partitions, attribute)
            if missing:
                report.missing_required[attribute.name] = missing
    if draw is not None:
        sys.stderr.write("\n")
    report.version = state.version + (0 if state.current and not report.removed and not report.dropped else 1)
    client.hset(meta.keys.schema, mapping={"attributes": json.dumps(declared(meta), sort_keys=True), "version": report.version})
    client.hdel(meta.keys.schema, "build")
    apply_state(meta, compare(meta, declared(meta), report.version))
    return report


def _ids(client: Any, keys: ModelKeys, cursor: int = 0) -> tuple[int, list[str]]:
    cursor, members = client.sscan(keys.ids, cursor, count=BATCH)
    return int(cursor), [m.decode() if isinstance(m, bytes) else m for m in members]


def _walk(model: type[ActiveRecord], partitions: list[ModelKeys], what: str, tick: Progress, total: int,
          resume: tuple[int, str] = (0, ""), save_cursor: Callable[[int, str], None] | None = None) -> Any:
    """Yield ``(keys, records)`` batches of every record, in id order, after the stored cursor (a partition, the last id done).

    Records created meanwhile with a smaller id were saved by the new
    class, which maintained the index itself.
    """
    client = model._meta.client()
    done = 0
    start_partition, last = resume
    for number, keys in enumerate(partitions):
        if number < start_partition:
            continue
        members = client.smembers(keys.ids)
        idents = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        if number == start_partition and last:
            skipped = len(idents)
            idents = [i for i in idents if i > last]
            done += skipped - len(idents)
        for offset in range(0, len(idents), BATCH):
            chunk = idents[offset : offset + BATCH]
            records = [r for r in load_records(model, chunk, [keys.record(i) for i in chunk], partitions=[]) if r is not None]
            yield keys, records
            done += len(chunk)
            if save_cursor is not None:
                save_cursor(number, chunk[-1])
            tick(what, min(done, total), total)


def _raw_records(model: type[ActiveRecord], keys: ModelKeys, idents: list[str]) -> list[tuple[str, dict[bytes, bytes]]]:
    client = model._meta.client()
    batch = raw_pipeline(client)
    for ident in idents:
        batch.hgetall(keys.record(ident))
    return [(i, {(k if isinstance(k, bytes) else k.encode()): (v if isinstance(v, bytes) else v.encode()) for k, v in raw.items()})
            for i, raw in zip(idents, batch.execute(), strict=True) if raw]


def _raw_walk(model: type[ActiveRecord], partitions: list[ModelKeys]) -> Any:
    client = model._meta.client()
    for keys in partitions:
        cursor = 0
        while True:
            cursor, idents = _ids(client, keys, cursor)
            yield keys, _raw_records(model, keys, idents)
            if cursor == 0:
                break


def _old_attribute(description: dict[str, Any]) -> Attribute | None:
    kind = getattr(attribute_types, description["type"], None)
    if kind is None or description["type"] in ("Enum", "Pointer", "ByteStream"):
        return None
    try:
        attribute: Attribute = kind()
    except TypeError:
        return None
    attribute.name = attribute.model_name = "old"
    return attribute


def _convert(attribute: Attribute, old: Attribute | None, raw: bytes) -> bytes:
    """Return the new stored form of a value stored under the old type (raise ValueError when it does not convert)."""
    candidates: list[Any] = []
    if old is not None:
        with contextlib.suppress(ValueError, TypeError, KeyError, UnicodeDecodeError):
            candidates.append(old.from_redis(raw))
    candidates.append(raw.decode(errors="replace"))
    for value in candidates:
        try:
            return attribute.to_redis(attribute.clean(value))
        except (ValidationError, ValueError, TypeError):
            pass
    try:
        return attribute.to_redis(attribute.clean(attribute.from_redis(raw)))
    except (ValidationError, ValueError, TypeError, DecodeError) as error:
        raise ValueError(str(error)) from None


def _check_conversions(model: type[ActiveRecord], partitions: list[ModelKeys], retyped: dict[str, Attribute],
                       stored: dict[str, dict[str, Any]]) -> None:
    failures: list[str] = []
    olds = {name: _old_attribute(stored[name]) for name in retyped}
    for _keys, records in _raw_walk(model, partitions):
        for ident, raw in records:
            for name, attribute in retyped.items():
                value = raw.get(attribute.field)
                if value is None:
                    continue
                try:
                    _convert(attribute, olds[name], value)
                except ValueError:
                    failures.append(f"{ident}: {name}={value[:40]!r}")
    if failures:
        shown = ", ".join(failures[:5]) + (f" and {len(failures) - 5} more" if len(failures) > 5 else "")
        raise MigrationError(
            f"{model.__name__}: cannot convert stored values to the declared types ({shown}); nothing was rewritten. "
            "Fix or delete those records, or keep the old type"
        )


def _rewrite(model: type[ActiveRecord], partitions: list[ModelKeys], attribute: Attribute, old_description: dict[str, Any],
             tick: Progress, total: int) -> int:
    old = _old_attribute(old_description)
    client = model._meta.client()
    rewritten = done = 0
    script = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end return -1"
    for keys, records in _raw_walk(model, partitions):
        batch = raw_pipeline(client)
        for ident, raw in records:
            value = raw.get(attribute.field)
            if value is None:
                continue
            new = _convert(attribute, old, value)
            if new != value:
                batch.execute_command("EVAL", script, 1, keys.record(ident), attribute.name, value, new)
                rewritten += 1
        batch.execute()
        done += len(records)
        tick(f"rewriting {attribute.name}", min(done, total), total)
    return rewritten


def _fill(model: type[ActiveRecord], partitions: list[ModelKeys], attribute: Attribute, tick: Progress, total: int) -> int:
    client = model._meta.client()
    default = attribute.default_value()
    if default is None:
        return 0
    filled = done = 0
    for keys, records in _raw_walk(model, partitions):
        batch = raw_pipeline(client)
        for ident, raw in records:
            if attribute.field not in raw:
                batch.execute_command("EVAL", FILL_LUA, 1, keys.record(ident), attribute.name, attribute.to_redis(attribute.default_value()))
                filled += 1
        batch.execute()
        done += len(records)
        tick(f"filling {attribute.name}", min(done, total), total)
    return filled


def _build(model: type[ActiveRecord], partitions: list[ModelKeys], attribute: Attribute, tick: Progress, total: int) -> int:
    """Build one index online, resuming a stored cursor; return the records indexed."""
    meta = model._meta
    client = meta.client()
    raw_build = client.hget(meta.keys.schema, "build")
    build = json.loads(raw_build) if raw_build else None
    resume = (0, "")
    if build and build.get("attribute") == attribute.name and build.get("kinds") == index_kinds(attribute):
        resume = (int(build["partition"]), str(build["last"]))

    def save_cursor(partition: int, last: str) -> None:
        state = {"attribute": attribute.name, "kinds": index_kinds(attribute), "partition": partition, "last": last}
        client.hset(meta.keys.schema, "build", json.dumps(state))

    kinds = index_kinds(attribute)
    indexed = 0
    clashes: list[str] = []
    for keys, records in _walk(model, partitions, f"indexing {attribute.name}", tick, total, resume, save_cursor):
        batch = raw_pipeline(client)
        queued = []
        for record in records:
            raw = record._stored.get(attribute.field) if record._stored else None
            value = record._data.get(attribute.name)
            if raw is None or value is None:
                continue
            score = repr(attribute.score(value)) if "n" in kinds else "0"
            ident = record._ident()
            batch.execute_command("EVAL", INDEX_ONE_LUA, 1, keys.record(ident), keys.tag, ident, attribute.name, kinds, raw, score)
            queued.append(record)
        if queued:
            for outcome, record in zip(batch.execute(), queued, strict=True):
                if int(outcome) == 1:
                    indexed += 1
                elif int(outcome) == -1:
                    clashes.append(f"{record._ident()} ({attribute.name}={record._data.get(attribute.name)!r})")
    if clashes:
        raise MigrationError(
            f"{model.__name__}.{attribute.name}: {len(clashes)} records hold a value another record already claims "
            f"({', '.join(clashes[:5])}); make the values unique and run migrate() again"
        )
    return indexed


def _index_keys(client: Any, keys: ModelKeys, name: str) -> list[Any]:
    found: list[Any] = [keys.numeric(name), keys.prefix(name)]
    found += scan_keys(client, key_pattern(keys.equality(name, b"").decode(errors="surrogateescape")))
    return found


def _drop_index(client: Any, partitions: list[ModelKeys], name: str) -> None:
    for keys in partitions:
        doomed = [*_index_keys(client, keys, name), keys.unique(name)]
        for offset in range(0, len(doomed), 1000):
            batch = raw_pipeline(client)
            for key in doomed[offset : offset + 1000]:
                batch.delete(key)
            batch.execute()


def _drop_claims(client: Any, partitions: list[ModelKeys], name: str) -> None:
    for keys in partitions:
        client.delete(keys.unique(name))


def _delete_fields(model: type[ActiveRecord], partitions: list[ModelKeys], name: str, old: dict[str, Any],
                   tick: Progress, total: int) -> None:
    client = model._meta.client()
    stream = old.get("type") == "ByteStream"
    done = 0
    for keys in partitions:
        cursor = 0
        while True:
            cursor, idents = _ids(client, keys, cursor)
            batch = raw_pipeline(client)
            for ident in idents:
                if stream:
                    batch.delete(keys.stream(name, ident))
                else:
                    batch.hdel(keys.record(ident), name)
            batch.execute()
            done += len(idents)
            tick(f"removing {name}", min(done, total), total)
            if cursor == 0:
                break


def _count_missing(model: type[ActiveRecord], partitions: list[ModelKeys], attribute: Attribute) -> int:
    return sum(1 for _keys, records in _raw_walk(model, partitions) for _ident, raw in records if attribute.field not in raw)


__all__ = [
    "MigrationReport", "SchemaState", "compare", "declared", "index_not_ready", "load_state", "load_state_steps", "migrate",
    "queue_schema", "refresh", "store_schema", "store_schema_steps", "synchronise", "synchronise_steps",
]

"""Index maintenance: ``Model.objects.check()`` and ``Model.objects.rebuild_indexes()``.

A partitioned model is checked and rebuilt one partition at a time (each
partition's records against its own indexes).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..pipeline import raw_pipeline
from .attributes import Attribute
from .keys import ModelKeys, key_pattern
from .loading import scan_keys, sweep
from .schema import mark_indexes_built

if TYPE_CHECKING:
    from .model import ActiveRecord

BATCH = 1000


def _expected(model: type[ActiveRecord], keys: ModelKeys) -> tuple[dict[str, Any], list[ActiveRecord], list[str]]:
    """Load every record of one partition and compute what each index should hold; also return ids without a record."""
    meta = model._meta
    client = meta.client()
    sweep(meta, [keys], client)  # expired records are gone, not inconsistent
    ids = sorted(i.decode() if isinstance(i, bytes) else i for i in client.smembers(keys.ids))
    loaded = model.objects._load(ids, [keys.record(i) for i in ids], partitions=[keys])
    records = [r for r in loaded if r is not None]
    orphans = [i for i, r in zip(ids, loaded, strict=True) if r is None]
    if orphans:  # an id whose record expired (and was swept) while this ran is no orphan
        listed = client.smismember(keys.ids, orphans)
        orphans = [i for i, still in zip(orphans, listed, strict=True) if still]
    expected: dict[str, Any] = {}
    for attribute in meta.indexed:
        name = attribute.name
        if attribute.index == "equality" and not attribute.unique:  # a unique value's entry is its claim
            sets: dict[bytes, set[bytes]] = defaultdict(set)
            for record in records:
                raw = record._stored.get(attribute.field) if record._stored else None
                if raw is not None:
                    sets[raw].add(record._ident().encode())
            expected[name] = dict(sets)
        elif attribute.index == "numeric":
            expected[name] = {
                record._ident().encode(): attribute.score(record._data[name])
                for record in records if record._data.get(name) is not None
            }
        elif attribute.index == "prefix":
            expected[name] = {
                record._stored[attribute.field] + b"\0" + record._ident().encode()  # type: ignore[index,operator]
                for record in records if record._stored and record._stored.get(attribute.field) is not None
            }
        if attribute.unique:
            expected[name + ":unique"] = {
                record._stored[attribute.field]: record._ident().encode()  # type: ignore[index]
                for record in records if record._stored and record._stored.get(attribute.field) is not None
            }
    return expected, records, orphans


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def check_indexes(model: type[ActiveRecord]) -> list[str]:
    """Return a description of every disagreement between the indexes and the records.

    Reads the whole model (records in batches, index keys found with SCAN);
    run it when writers are quiet, or expect in-flight saves to show up.
    """
    problems: list[str] = []
    for keys in model._meta.all_partition_keys():
        problems += _check_partition(model, keys)
    return problems


def _check_partition(model: type[ActiveRecord], keys: ModelKeys) -> list[str]:
    meta = model._meta
    client = meta.client()
    expected, _records, orphans = _expected(model, keys)
    problems = [f"{model.__name__}: the id set lists {ident} but its record {keys.record(ident)!r} does not exist" for ident in orphans]
    for attribute in meta.indexed:
        name = attribute.name
        if attribute.index == "equality" and not attribute.unique:
            prefix = keys.equality(name, b"")
            index_keys = scan_keys(client, key_pattern(prefix.decode(errors="surrogateescape")))
            pipe = raw_pipeline(client)
            for key in index_keys:
                pipe.smembers(key)
            actual: dict[bytes, set[bytes]] = {
                key[len(prefix):]: {_as_bytes(m) for m in members}
                for key, members in zip(index_keys, pipe.execute() if index_keys else [], strict=True)
            }
            wanted = expected[name]
            for value in sorted(set(actual) | set(wanted)):
                extra = actual.get(value, set()) - wanted.get(value, set())
                missing = wanted.get(value, set()) - actual.get(value, set())
                for ident in sorted(extra):
                    problems.append(f"{model.__name__}.{name}: index {value!r} lists {ident.decode()} whose value differs")
                for ident in sorted(missing):
                    problems.append(f"{model.__name__}.{name}: record {ident.decode()} missing from index {value!r}")
        elif attribute.index == "numeric":
            pairs: list[Any] = client.zrange(keys.numeric(name), 0, -1, withscores=True)
            actual_scores = {_as_bytes(member): float(score) for member, score in pairs}
            wanted_scores = expected[name]
            for ident in sorted(set(actual_scores) | set(wanted_scores)):
                if actual_scores.get(ident) != wanted_scores.get(ident):
                    problems.append(
                        f"{model.__name__}.{name}: numeric index has {actual_scores.get(ident)!r} for {ident.decode()}, "
                        f"the record {wanted_scores.get(ident)!r}"
                    )
        elif attribute.index == "prefix":
            members: list[Any] = client.zrange(keys.prefix(name), 0, -1)
            actual_members = {_as_bytes(m) for m in members}
            for member in sorted(actual_members ^ expected[name]):
                where = "stale entry in" if member in actual_members else "missing from"
                problems.append(f"{model.__name__}.{name}: {member!r} {where} the prefix index")
        if attribute.unique:
            raw: dict[Any, Any] = client.hgetall(keys.unique(name))
            claims = {_as_bytes(k): _as_bytes(v) for k, v in raw.items()}
            wanted_claims = expected[name + ":unique"]
            for value in sorted(set(claims) | set(wanted_claims)):
                if claims.get(value) != wanted_claims.get(value):
                    problems.append(
                        f"{model.__name__}.{name}: unique claim {value!r} held by {claims.get(value)!r}, "
                        f"record {wanted_claims.get(value)!r}"
                    )
    return problems


def _index_keys(model: type[ActiveRecord], names: ModelKeys, attribute: Attribute) -> list[Any]:
    # Also the equality sets of a unique attribute, which older versions kept next to its claims.
    client = model._meta.client()
    keys: list[Any] = [names.numeric(attribute.name), names.prefix(attribute.name), names.unique(attribute.name)]
    keys += scan_keys(client, key_pattern(names.equality(attribute.name, b"").decode(errors="surrogateescape")))
    return keys


def rebuild_indexes(model: type[ActiveRecord], progress: bool = False) -> int:
    """Drop and rebuild every index of ``model`` from its records; return how many records were indexed.

    Run it when no other process writes the model: writes made while it
    runs may be missed (``migrate()`` builds a new index online instead).
    It also removes from the id set the ids whose record key is gone (a
    record key expired or deleted by hand, which ``check()`` reports).
    """
    partitions = model._meta.all_partition_keys()
    total = sum(model._meta.client().scard(keys.ids) for keys in partitions)
    done = 0
    for keys in partitions:
        done = _rebuild_partition(model, keys, done, total, progress)
    if progress:
        sys.stderr.write("\n")
    mark_indexes_built(model)
    return done


def _rebuild_partition(model: type[ActiveRecord], names: ModelKeys, done: int, total: int, progress: bool) -> int:
    meta = model._meta
    client = meta.client()
    for attribute in meta.indexed:
        keys = _index_keys(model, names, attribute)
        for offset in range(0, len(keys), BATCH):
            client.delete(*keys[offset : offset + BATCH])
    sweep(meta, [names], client)
    ids = sorted(i.decode() if isinstance(i, bytes) else i for i in client.smembers(names.ids))
    for offset in range(0, len(ids), BATCH):
        chunk = ids[offset : offset + BATCH]
        loaded = model.objects._load(chunk, [names.record(i) for i in chunk], partitions=[])
        records = [r for r in loaded if r is not None]
        pipe = raw_pipeline(client)
        orphans = [ident for ident, record in zip(chunk, loaded, strict=True) if record is None]
        if orphans:  # ids whose record is gone (a manual EXPIRE or DEL of the record key)
            pipe.srem(names.ids, *orphans)
            pipe.zrem(names.expires, *orphans)
        for record in records:
            ident = record._ident()
            for attribute in meta.indexed:
                value = record._data.get(attribute.name)
                raw = record._stored.get(attribute.field) if record._stored else None
                if value is None or raw is None:
                    continue
                if attribute.index == "equality" and not attribute.unique:
                    pipe.sadd(names.equality(attribute.name, raw), ident)
                elif attribute.index == "numeric":
                    pipe.zadd(names.numeric(attribute.name), {ident: attribute.score(value)})
                elif attribute.index == "prefix":
                    pipe.zadd(names.prefix(attribute.name), {raw + b"\0" + ident.encode(): 0})
                if attribute.unique:
                    pipe.hsetnx(names.unique(attribute.name), raw, ident)
        pipe.execute()
        done += len(records)
        if progress:
            width = 40
            filled = int(width * done / max(total, 1))
            sys.stderr.write(f"\rrebuilding {model.__name__} indexes [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            sys.stderr.flush()
    return done

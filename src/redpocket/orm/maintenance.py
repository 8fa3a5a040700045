"""Index maintenance: ``Model.objects.check()`` and ``Model.objects.rebuild_indexes()``."""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .attributes import Attribute

if TYPE_CHECKING:
    from .model import ActiveRecord

BATCH = 1000


def _expected(model: type[ActiveRecord]) -> tuple[dict[str, Any], list[ActiveRecord], list[str]]:
    """Load every record and compute what each index should hold; also return ids without a record."""
    meta = model._meta
    client = meta.client()
    ids = sorted(i.decode() if isinstance(i, bytes) else i for i in client.smembers(meta.keys.ids))
    loaded = model.objects.get_many(ids)
    records = [r for r in loaded if r is not None]
    orphans = [i for i, r in zip(ids, loaded, strict=True) if r is None]
    expected: dict[str, Any] = {}
    for attribute in meta.indexed:
        name = attribute.name
        if attribute.index == "equality":
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


def _scan(client: Any, pattern: bytes) -> list[bytes]:
    return [k if isinstance(k, bytes) else k.encode() for k in client.scan_iter(match=pattern, count=1000)]


def _pattern(prefix: str) -> bytes:
    escaped = prefix.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?").replace("[", "\\[").replace("]", "\\]")
    return escaped.encode() + b"*"


def check_indexes(model: type[ActiveRecord]) -> list[str]:
    """Return a description of every disagreement between the indexes and the records.

    Reads the whole model (records in batches, index keys found with SCAN);
    run it when writers are quiet, or expect in-flight saves to show up.
    """
    meta = model._meta
    client = meta.client()
    expected, _records, orphans = _expected(model)
    problems = [f"{model.__name__}: the id set lists {ident} but its record {meta.keys.record(ident)!r} does not exist" for ident in orphans]
    for attribute in meta.indexed:
        name = attribute.name
        if attribute.index == "equality":
            prefix = meta.keys.equality(name, b"")
            index_keys = _scan(client, _pattern(prefix.decode(errors="surrogateescape")))
            pipe = client.pipeline(transaction=False)
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
            pairs: list[Any] = client.zrange(meta.keys.numeric(name), 0, -1, withscores=True)
            actual_scores = {_as_bytes(member): float(score) for member, score in pairs}
            wanted_scores = expected[name]
            for ident in sorted(set(actual_scores) | set(wanted_scores)):
                if actual_scores.get(ident) != wanted_scores.get(ident):
                    problems.append(
                        f"{model.__name__}.{name}: numeric index has {actual_scores.get(ident)!r} for {ident.decode()}, "
                        f"the record {wanted_scores.get(ident)!r}"
                    )
        elif attribute.index == "prefix":
            members: list[Any] = client.zrange(meta.keys.prefix(name), 0, -1)
            actual_members = {_as_bytes(m) for m in members}
            for member in sorted(actual_members ^ expected[name]):
                where = "stale entry in" if member in actual_members else "missing from"
                problems.append(f"{model.__name__}.{name}: {member!r} {where} the prefix index")
        if attribute.unique:
            raw: dict[Any, Any] = client.hgetall(meta.keys.unique(name))  # type: ignore[assignment]
            claims = {_as_bytes(k): _as_bytes(v) for k, v in raw.items()}
            wanted_claims = expected[name + ":unique"]
            for value in sorted(set(claims) | set(wanted_claims)):
                if claims.get(value) != wanted_claims.get(value):
                    problems.append(
                        f"{model.__name__}.{name}: unique claim {value!r} held by {claims.get(value)!r}, "
                        f"record {wanted_claims.get(value)!r}"
                    )
    return problems


def _index_keys(model: type[ActiveRecord], attribute: Attribute) -> list[Any]:
    meta = model._meta
    client = meta.client()
    keys: list[Any] = [meta.keys.numeric(attribute.name), meta.keys.prefix(attribute.name), meta.keys.unique(attribute.name)]
    keys += _scan(client, _pattern(meta.keys.equality(attribute.name, b"").decode(errors="surrogateescape")))
    return keys


def rebuild_indexes(model: type[ActiveRecord], progress: bool = False) -> int:
    """Drop and rebuild every index of ``model`` from its records; return how many records were indexed.

    Run it when no other process writes the model (after adding an index
    to an existing model, say): writes made while it runs may be missed.
    """
    meta = model._meta
    client = meta.client()
    for attribute in meta.indexed:
        keys = _index_keys(model, attribute)
        for offset in range(0, len(keys), BATCH):
            client.delete(*keys[offset : offset + BATCH])
    ids = sorted(i.decode() if isinstance(i, bytes) else i for i in client.smembers(meta.keys.ids))
    done = 0
    for offset in range(0, len(ids), BATCH):
        records = [r for r in model.objects.get_many(ids[offset : offset + BATCH]) if r is not None]
        pipe = client.pipeline(transaction=False)
        for record in records:
            ident = record._ident()
            for attribute in meta.indexed:
                value = record._data.get(attribute.name)
                raw = record._stored.get(attribute.field) if record._stored else None
                if value is None or raw is None:
                    continue
                if attribute.index == "equality":
                    pipe.sadd(meta.keys.equality(attribute.name, raw), ident)
                elif attribute.index == "numeric":
                    pipe.zadd(meta.keys.numeric(attribute.name), {ident: attribute.score(value)})
                elif attribute.index == "prefix":
                    pipe.zadd(meta.keys.prefix(attribute.name), {raw + b"\0" + ident.encode(): 0})
                if attribute.unique:
                    pipe.hsetnx(meta.keys.unique(attribute.name), raw, ident)
        pipe.execute()
        done += len(records)
        if progress:
            width = 40
            filled = int(width * done / max(len(ids), 1))
            sys.stderr.write(f"\rrebuilding {model.__name__} indexes [{'#' * filled}{'.' * (width - filled)}] {done}/{len(ids)}")
            sys.stderr.flush()
    if progress:
        sys.stderr.write("\n")
    return done

"""Loading records: ``HGETALL`` in pipelined batches, decoded into records, with their pointers batched.

Every read first runs the model's expiry sweep (``scripts/sweep.lua``) in
the same round trip, so a record whose deadline has passed is gone, with
its index entries and unique claims, before anything is read: it never
shows up in a load, a query, a count or a pointer.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import redis

from ..errors import DecodeError, QueryError
from ..pipeline import failover_steps, raw_pipeline
from ..steps import Steps, run_sync
from .io import execute, ride
from .unit import SWEEP_LUA, sweep_call

if TYPE_CHECKING:
    from .attributes import Pointer
    from .keys import ModelKeys
    from .model import ActiveRecord, Options

LOAD_BATCH = 5000
T = TypeVar("T")


SWEEP_SHA = hashlib.sha1(SWEEP_LUA.encode()).hexdigest()
_swept_clients: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def ensure_sweep(client: Any, reload: bool = False) -> None:
    """Load the sweep script on ``client``'s server(s) once (again with ``reload``, after a NOSCRIPT)."""
    run_sync(ensure_sweep_steps(client, reload))


def ensure_sweep_steps(client: Any, reload: bool = False) -> Steps[None]:
    """The steps of :func:`ensure_sweep`, for a sync or an asyncio client."""
    if reload or client not in _swept_clients:
        yield from ride(client, lambda: client.script_load(SWEEP_LUA))  # a cluster: on every master
        _swept_clients[client] = True


def queue_sweep(pipe: Any, meta: Options, keys: ModelKeys, loaded: bool = False) -> None:
    """Queue the expiry sweep of one partition on ``pipe`` (a raw pipeline or a pipeline context).

    EVALSHA, the script loaded beforehand (:func:`ensure_sweep`; ``loaded``:
    by the caller, on the client ``pipe`` sends to): a redis-py pipeline
    with a ``Script`` would first cost a SCRIPT EXISTS round trip, and EVAL
    would send the script's text with every read.
    """
    if not loaded:
        ensure_sweep(meta.client())
    script_keys, args = sweep_call(meta, keys)
    pipe.execute_command("EVALSHA", SWEEP_SHA, len(script_keys), *script_keys, *args)


def reading(meta: Options, client: Any, read: Callable[[], Steps[T]]) -> Steps[T]:
    """Run the steps ``read()`` (which queue sweeps), loading the sweep script again once if the server lost it."""
    try:
        return (yield from read())
    except redis.exceptions.NoScriptError:
        yield from ensure_sweep_steps(client, reload=True)
        return (yield from read())


def sweep(meta: Options, partitions: Sequence[ModelKeys], client: Any = None) -> int:
    """Remove the expired records of ``partitions`` now (one round trip); return how many were removed."""
    return run_sync(sweep_steps(meta, partitions, client or meta.client()))


def sweep_steps(meta: Options, partitions: Sequence[ModelKeys], client: Any) -> Steps[int]:
    """The steps of :func:`sweep` on ``client`` (sync or asyncio)."""
    if not partitions:
        return 0

    def run() -> Steps[int]:
        batch = raw_pipeline(client)
        for keys in partitions:
            queue_sweep(batch, meta, keys, loaded=True)
        return sum(int(n) for n in (yield from execute(batch)))

    yield from ensure_sweep_steps(client)
    return (yield from reading(meta, client, lambda: failover_steps(client, run)))


def load_records(model: type[ActiveRecord], idents: list[str], keys: Sequence[str | None] | None = None,
                 pks: Sequence[Any] | None = None, partitions: Sequence[ModelKeys] | None = None) -> list[Any]:
    """Load records by their stored id text (as the indexes hold them), in pipelined batches.

    ``keys`` are the record keys (``None``: a record known not to exist);
    by default the model's own (unpartitioned) keys.  ``pks`` are the
    primary keys, when the caller has them.  ``partitions`` are swept
    first (default: the model's own keys when unpartitioned).
    """
    return run_sync(load_records_steps(model, model._meta.client(), idents, keys, pks, partitions))


def load_records_steps(model: type[ActiveRecord], client: Any, idents: list[str], keys: Sequence[str | None] | None = None,
                       pks: Sequence[Any] | None = None, partitions: Sequence[ModelKeys] | None = None) -> Steps[list[Any]]:
    """The steps of :func:`load_records` on ``client`` (sync or asyncio)."""
    meta = model._meta
    if keys is None:
        record_key = meta.keys.record
        keys = [record_key(i) for i in idents]
    if partitions is None:
        partitions = [meta.keys] if meta.partition is None else []
    if None in keys:
        found = [n for n, k in enumerate(keys) if k is not None]
        known_pks = None if pks is None else [pks[n] for n in found]
        loaded = iter((yield from load_records_steps(
            model, client, [idents[n] for n in found], [keys[n] for n in found], known_pks, partitions)))
        return [None if k is None else next(loaded) for k in keys]
    if not keys:
        return []
    raws: list[Any] = []
    for offset in range(0, len(keys), LOAD_BATCH):
        batch = raw_pipeline(client)
        if offset == 0:
            for partition in partitions:
                queue_sweep(batch, meta, partition, loaded=True)
        queue = batch.execute_command  # hgetall() would also build a per-key list for redis-py's cache
        for key in keys[offset : offset + LOAD_BATCH]:
            queue("HGETALL", key)
        replies = yield from execute(batch, raise_on_error=False)
        if offset == 0:
            for reply in replies[: len(partitions)]:
                if isinstance(reply, redis.exceptions.NoScriptError):  # the server lost the script: once more
                    yield from ensure_sweep_steps(client, reload=True)
                    return (yield from load_records_steps(model, client, idents, keys, pks, partitions))
                if isinstance(reply, BaseException):
                    raise reply
            replies = replies[len(partitions):]
        raws.extend(replies)
    return build_records(model, idents, raws, pks)


def build_records(model: type[ActiveRecord], idents: list[str], raws: list[Any], pks: Sequence[Any] | None = None) -> list[Any]:
    """Decode ``HGETALL`` replies into records (``None`` for an empty reply)."""
    from_hash = model._from_hash
    records: list[Any] = []
    append = records.append
    for ident, raw, pk in zip(idents, raws, [None] * len(idents) if pks is None else pks, strict=True):
        if not raw:
            append(None)
        elif isinstance(raw, dict):
            append(from_hash(ident, raw, pk))
        elif isinstance(raw, redis.ResponseError):  # WRONGTYPE: the key holds something else
            key = model._meta.keys.record(ident)
            raise DecodeError(f"cannot load {model.__name__} {ident} from key {key!r}: {raw}") from raw
        elif isinstance(raw, BaseException):
            raise raw
        else:
            key = model._meta.keys.record(ident)
            raise DecodeError(f"cannot load {model.__name__} {ident} from key {key!r}: unexpected reply {raw!r}")
    PointerLoader.attach(model, records)
    return records


def scan_keys(client: Any, pattern: bytes) -> list[bytes]:
    """Return the keys matching ``pattern`` (SCAN; on a cluster, every master)."""
    return [k if isinstance(k, bytes) else k.encode() for k in client.scan_iter(match=pattern, count=1000)]


def record_keys(model: type[ActiveRecord], idents: list[str]) -> list[str | None]:
    """Return the record keys of ids of a partitioned model (one HMGET of ``partition_of``); ``None`` when unknown."""
    return run_sync(record_keys_steps(model, model._meta.client(), idents))


def record_keys_steps(model: type[ActiveRecord], client: Any, idents: list[str]) -> Steps[list[str | None]]:
    """The steps of :func:`record_keys` on ``client`` (sync or asyncio)."""
    meta = model._meta
    if not idents:
        return []
    located = yield from ride(client, lambda: client.hmget(meta.keys.partition_of, idents))
    return [
        None if where is None else meta.keys_for(where.decode() if isinstance(where, bytes) else where).record(ident)
        for ident, where in zip(idents, located, strict=True)
    ]


class PointerLoader:
    """Loads the records that the Pointer attributes of a result set refer to, one batch per attribute."""

    def __init__(self, records: Sequence[ActiveRecord]) -> None:
        self.records = list(records)
        self.loaded: set[str] = set()

    @classmethod
    def attach(cls, model: type[ActiveRecord], records: Sequence[ActiveRecord | None]) -> None:
        """Share one loader among ``records`` (``None`` entries skipped) when ``model`` has Pointer attributes."""
        if model._meta.pointers:
            loader = cls([r for r in records if r is not None])
            for record in loader.records:
                record._batch = loader

    def load_pointers(self, attribute: Pointer) -> None:
        """Load the targets of ``attribute`` for every record of the batch (one pipelined load)."""
        run_sync(self.load_pointers_steps(attribute, False))

    def load_pointers_steps(self, attribute: Pointer, aio: bool) -> Steps[None]:
        """The steps of :meth:`load_pointers` (on the target's asyncio client with ``aio``)."""
        if attribute.name in self.loaded:
            return
        self.loaded.add(attribute.name)
        name = attribute.name
        wanted = [r for r in self.records if name not in r._pointers and r._data.get(name) is not None]
        ids = list(dict.fromkeys(r._data[name] for r in wanted))
        found = dict(zip(ids, (yield from attribute.target.objects._get_many_steps(aio, ids)), strict=True))
        for record in wanted:
            target = found.get(record._data[name])
            if target is None and not attribute.null:
                continue  # the record's own access raises the clear error
            record._pointers[name] = target


class PendingRecords:
    """Records requested on a raw redis-py pipeline: ``resolve(pipe.execute())`` builds them."""

    def __init__(self, model: type[ActiveRecord], idents: list[str], position: int, pks: list[Any] | None = None) -> None:
        self.model = model
        self.idents = idents
        self.position = position
        self.pks = pks
        self.records: list[Any] | None = None

    def resolve(self, results: Sequence[Any]) -> list[Any]:
        """Build the records from the pipeline's ``execute()`` results (``None`` for missing ids)."""
        raws = list(results[self.position : self.position + len(self.idents)])
        if len(raws) != len(self.idents):
            raise QueryError("resolve() takes the complete results of the pipeline the records were requested on")
        self.records = build_records(self.model, self.idents, raws, self.pks)
        return self.records


__all__ = [
    "LOAD_BATCH", "PendingRecords", "PointerLoader", "build_records", "ensure_sweep", "ensure_sweep_steps", "load_records",
    "load_records_steps", "queue_sweep", "reading", "record_keys", "record_keys_steps", "scan_keys", "sweep", "sweep_steps",
]

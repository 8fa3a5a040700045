"""Relations: ``related_name`` (the reverse side of a Pointer) and ``on_delete``.

Deleting a record first follows every ``Pointer(..., on_delete=...)`` that
points to its model (found through the pointer's equality index, which
``on_delete`` implies), transitively:

- ``PROTECT``: if a record still points to it (and is not itself being
  deleted), :class:`ProtectedError` is raised and nothing is written;
- ``CASCADE``: the pointing records are deleted too (and their own
  dependents followed);
- ``SET_NULL``: the pointing records' attribute is cleared;
- ``DO_NOTHING`` (default): the pointer dangles.

The dependents are read first, then every delete and every cleared pointer
is sent in one batch.  On one server (the embedded engine, redis-server)
that batch is a MULTI/EXEC transaction: the delete and its cascade happen
atomically.  On a Redis Cluster the models live in different slots (each
model's keys carry its own hash tag), so each record's change is atomic but
the batch is not: a crash in the middle can leave some cascaded records
behind (run the delete again to finish it).  A record created pointing to
the target while the delete runs is not seen by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ProtectedError
from ..pipeline import CLUSTERS, PipelineContext
from ..steps import Steps, run_sync
from .attributes import CASCADE, PROTECT, SET_NULL
from .io import client_steps

if TYPE_CHECKING:
    from .attributes import Pointer
    from .model import ActiveRecord
    from .query import QuerySet


class RelatedQuery:
    """A descriptor on the pointed-to model giving a query of the records that point to an instance."""

    def __init__(self, pointer: Pointer) -> None:
        self.pointer = pointer

    def __get__(self, record: Any, owner: type | None = None) -> Any:
        if record is None:
            return self
        model = self.pointer.model
        assert model is not None
        query: QuerySet = model.objects.filter(**{self.pointer.name: record.pk})
        return query


def _identity(record: ActiveRecord) -> tuple[str, str]:
    return (type(record)._meta.keys.tag, record._ident())


def collect(records: Sequence[ActiveRecord]) -> tuple[list[ActiveRecord], list[tuple[ActiveRecord, Pointer]]]:
    """Follow ``on_delete`` from ``records``: return the records to delete (cascade included) and the pointers to clear.

    Raises :class:`ProtectedError` when a ``PROTECT`` pointer holds one of them.
    """
    return run_sync(collect_steps(records, False))


def collect_steps(records: Sequence[ActiveRecord], aio: bool) -> Steps[tuple[list[ActiveRecord], list[tuple[ActiveRecord, Pointer]]]]:
    """The steps of :func:`collect` (its queries on the asyncio connections with ``aio``)."""
    doomed: dict[tuple[str, str], ActiveRecord] = {_identity(r): r for r in records}
    clear: list[tuple[ActiveRecord, Pointer]] = []
    protected: list[tuple[ActiveRecord, Pointer]] = []
    frontier = list(records)
    while frontier:
        by_model: dict[Any, list[ActiveRecord]] = {}
        for record in frontier:
            by_model.setdefault(type(record), []).append(record)
        frontier = []
        for model, group in by_model.items():
            for pointer in model._meta.dependents():
                source = pointer.model
                assert source is not None
                query = source.objects.filter(**{f"{pointer.name}__in": [r.pk for r in group]})
                pointing = yield from query._fetch_steps(aio)
                for other in pointing:
                    if pointer.on_delete == PROTECT:
                        protected.append((other, pointer))
                    elif pointer.on_delete == SET_NULL:
                        clear.append((other, pointer))
                    elif pointer.on_delete == CASCADE and _identity(other) not in doomed:
                        doomed[_identity(other)] = other
                        frontier.append(other)
    holding = [(r, p) for r, p in protected if _identity(r) not in doomed]
    if holding:
        names = ", ".join(f"{type(r).__name__} {r.pk!s} (.{p.name})" for r, p in holding[:5])
        more = f" and {len(holding) - 5} more" if len(holding) > 5 else ""
        raise ProtectedError(f"cannot delete: protected by Pointer(on_delete=PROTECT) from {names}{more}; nothing was deleted",
                             [r for r, _ in holding])
    return list(doomed.values()), [(r, p) for r, p in clear if _identity(r) not in doomed]


def queue_dependents(records: Sequence[ActiveRecord], pipe: Any) -> list[ActiveRecord]:
    """Queue on ``pipe`` what deleting ``records`` does to their dependents; return the cascaded records queued."""
    return run_sync(queue_dependents_steps(records, pipe, False))


def queue_dependents_steps(records: Sequence[ActiveRecord], pipe: Any, aio: bool) -> Steps[list[ActiveRecord]]:
    """The steps of :func:`queue_dependents` (reading the dependents on the asyncio connections with ``aio``)."""
    doomed, clear = yield from collect_steps(records, aio)
    for record, pointer in clear:
        record._data[pointer.name] = None
        record._pointers.pop(pointer.name, None)
        record._run({pointer.name}, pipe, must_exist=True)
    originals = {_identity(r) for r in records}
    cascaded = [r for r in doomed if _identity(r) not in originals]
    for record in cascaded:
        record._delete_only(pipe)
    return cascaded


def delete_with_dependents(records: Sequence[ActiveRecord]) -> int:
    """Delete ``records`` with their dependents in one batch (a transaction on one server); return the keys deleted by ``records``."""
    return run_sync(delete_with_dependents_steps(records, False))


def delete_with_dependents_steps(records: Sequence[ActiveRecord], aio: bool) -> Steps[int]:
    """The steps of :func:`delete_with_dependents` (on the asyncio connections with ``aio``)."""
    first = type(records[0])._meta
    client = yield from client_steps(first, aio)
    transaction = not isinstance(client, CLUSTERS)
    pipe = PipelineContext(name=first.connection, transaction=transaction, asynchronous=aio)
    yield from queue_dependents_steps(records, pipe, aio)
    pending = [record._delete_only(PipelineContext(pipe, name=type(record)._meta.connection)) for record in records]
    yield from pipe.execute_steps()
    return sum(int(p.result) for p in pending)


__all__ = [
    "RelatedQuery", "collect", "collect_steps", "delete_with_dependents", "delete_with_dependents_steps", "queue_dependents",
    "queue_dependents_steps",
]

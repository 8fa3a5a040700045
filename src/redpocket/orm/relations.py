"""``related_name``: the reverse side of a Pointer (``project.builds``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attributes import Pointer
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

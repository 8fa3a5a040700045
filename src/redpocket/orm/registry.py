"""The declared models: by name (for ``Pointer("Name")``) and by key prefix (one class per prefix).

Two classes claiming the same key prefix (``Meta.namespace`` and
``Meta.name``) would read and write each other's records: the second one
raises :class:`DefinitionError`, unless it is the same class defined again
(same module and class name: a module reload, or a test defining it twice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DefinitionError

if TYPE_CHECKING:
    from .model import ActiveRecord


class ModelRegistry:
    """Every model class, found by its name or its key prefix."""

    def __init__(self) -> None:
        self.by_name: dict[str, Any] = {}
        self.by_prefix: dict[tuple[str, str], Any] = {}
        self.generation = 0  # bumped on every registration: caches derived from the models compare it

    def register(self, model: type[ActiveRecord], namespace: str, name: str) -> None:
        """Record ``model`` under its prefix ``{namespace:name}``; refuse a prefix another class holds."""
        prefix = (namespace, name)
        holder = self.by_prefix.get(prefix)
        if holder is not None and (holder.__module__, holder.__name__) != (model.__module__, model.__name__):
            raise DefinitionError(
                f"{model.__module__}.{model.__qualname__} claims the key prefix {{{namespace}:{name}}}, already held by "
                f"{holder.__module__}.{holder.__qualname__}: the two would share their records. Give one of them "
                f"class Meta: name = \"...\" (or namespace = \"...\")"
            )
        self.by_prefix[prefix] = model
        self.by_name[name] = model  # a redefinition (tests, reloads): the newest wins
        self.by_name[model.__name__] = model
        self.generation += 1

    def get(self, name: str) -> Any:
        """Return the model named ``name`` (its ``Meta.name`` or class name), or ``None``."""
        return self.by_name.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def classes(self) -> list[Any]:
        """Return every model class (the newest definition of each prefix)."""
        return list(self.by_prefix.values())


models = ModelRegistry()

__all__ = ["ModelRegistry", "models"]

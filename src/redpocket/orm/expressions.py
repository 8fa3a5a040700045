"""``F("views") + 1``: a value computed by Redis from the stored record, inside the atomic save.

``record.update(views=F("views") + 1)``, ``record.incr("views")`` and
``Model.objects.filter(...).update(score=F("score") * 2)`` send the
expression, not a value: the save script reads the attribute's current
stored value, applies the operations and writes the result together with
its index entries and unique claim, so concurrent increments never lose an
update.  Expressions apply to :class:`~.attributes.Integer` and
:class:`~.attributes.Float` attributes, with numeric operands, through
``+ - * /``; on an Integer ``/`` is floor division (Python's ``//``) and
operands must be integers.  A value absent from the record (an old record,
or ``None``) counts as the attribute's default, else 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .attributes import Float, Integer

if TYPE_CHECKING:
    from .attributes import Attribute

OPERATORS = ("+", "-", "*", "/")
SAFE_INTEGER = 2**53  # Lua numbers are doubles: integers beyond this are not exact


class F:
    """A reference to a stored attribute, with arithmetic applied server-side (Django's spelling)."""

    __slots__ = ("name", "steps")

    def __init__(self, name: str, steps: tuple[tuple[str, int | float], ...] = ()) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"F() takes an attribute name, not {name!r}")
        self.name = name
        self.steps = steps

    def _then(self, op: str, operand: Any) -> F:
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            raise TypeError(f"F({self.name!r}) {op} takes a number, not {operand!r}")
        if isinstance(operand, float) and not math.isfinite(operand):
            raise TypeError(f"F({self.name!r}) {op} takes a finite number, not {operand!r}")
        if op == "/" and operand == 0:
            raise ZeroDivisionError(f"F({self.name!r}) / 0")
        return F(self.name, (*self.steps, (op, operand)))

    def __add__(self, operand: Any) -> F:
        return self._then("+", operand)

    def __radd__(self, operand: Any) -> F:
        return self._then("+", operand)

    def __sub__(self, operand: Any) -> F:
        return self._then("-", operand)

    def __mul__(self, operand: Any) -> F:
        return self._then("*", operand)

    def __rmul__(self, operand: Any) -> F:
        return self._then("*", operand)

    def __truediv__(self, operand: Any) -> F:
        return self._then("/", operand)

    def __repr__(self) -> str:
        text = f"F({self.name!r})"
        for op, operand in self.steps:
            text = f"({text} {op} {operand!r})"
        return text

    def check(self, target: Attribute, source: Attribute | None) -> None:
        """Refuse an expression the save script cannot compute exactly for ``target`` (raise ValidationError)."""
        if type(target) not in (Integer, Float):
            raise target.invalid(self, "F() expressions apply to Integer and Float attributes only")
        if source is None:
            raise target.invalid(self, f"{target.model_name} has no attribute {self.name!r}")
        if type(source) not in (Integer, Float) or (type(target) is Integer and type(source) is not Integer):
            raise target.invalid(self, f"F({self.name!r}) must name an Integer{'' if type(target) is Integer else ' or Float'} attribute")
        for op, operand in self.steps:
            if type(target) is Integer and not isinstance(operand, int):
                raise target.invalid(self, f"an Integer takes integer operands ({op} {operand!r})")
            if isinstance(operand, int) and abs(operand) >= SAFE_INTEGER:
                raise target.invalid(self, f"operand {operand!r} is beyond the exact integer range (2**53)")

    def script_args(self, target: Attribute, source: Attribute, kinds: str) -> list[Any]:
        """Return this expression's part of the save script's ARGV (see ``scripts/apply.lua``)."""
        default = source.default_value()
        args: list[Any] = [
            target.name, "i" if type(target) is Integer else "f", source.name,
            "0" if default is None else source.to_redis(default), kinds, len(self.steps),
        ]
        for op, operand in self.steps:
            args += [op, repr(operand)]
        return args


def out_of_range(model: str, attribute: str, expression: Any) -> ValidationError:
    """Build the error of an expression whose result cannot be stored (overflow, inf)."""
    return ValidationError(model, attribute, expression, "the computed value is out of range (or not a number)")


__all__ = ["OPERATORS", "F"]

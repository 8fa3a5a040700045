"""Typed attributes: descriptors that validate on assignment and a codec to Redis and back.

Each attribute stores a native, readable value in the record's hash:

============  ==============================  =====================
attribute     Python value                    stored text
============  ==============================  =====================
Unicode       ``str``                         the text
Bytes         ``bytes`` (``str`` is encoded)  the bytes
Integer       ``int``                         ``42``
Float         ``float``                       ``3.5``
Decimal       ``decimal.Decimal``             ``12.50``
Boolean       ``bool``                        ``true`` / ``false``
DateTime      aware ``datetime`` (UTC)        ``2024-05-01T10:00:00+00:00``
Date          ``date``                        ``2024-05-01``
Time          ``time``                        ``10:00:00``
UUID          ``uuid.UUID``                   ``970773fa-4de1-...``
AutoUUID      ``uuid.UUID`` (uuid4 default)   same
JSON          any JSON value                  JSON text
Enum          an ``enum.Enum`` member         the member's name
Pointer       the pointed-to record           its id
ByteStream    ``bytes``, in its own key       the bytes
============  ==============================  =====================

A ``None`` value (``null=True``) is stored as an absent field.  A naive
``datetime`` is rejected: pass an aware one (``datetime.now(timezone.utc)``);
aware values are converted to UTC.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from ..errors import DefinitionError, ValidationError

if TYPE_CHECKING:
    from .model import ActiveRecord

NOTHING: Any = type("NOTHING", (), {"__repr__": lambda self: "NOTHING"})()

INDEX_KINDS = ("equality", "numeric", "prefix")

CASCADE = "CASCADE"
"""``Pointer(on_delete=CASCADE)``: deleting the target deletes the records pointing to it."""
SET_NULL = "SET_NULL"
"""``Pointer(on_delete=SET_NULL)``: deleting the target clears the pointer (the attribute must be ``null=True``)."""
PROTECT = "PROTECT"
"""``Pointer(on_delete=PROTECT)``: deleting a target still pointed to raises ``ProtectedError``."""
DO_NOTHING = "DO_NOTHING"
"""``Pointer(on_delete=DO_NOTHING)``, the default: the pointer dangles (reads ``None`` when ``null=True``)."""
ON_DELETE = (CASCADE, SET_NULL, PROTECT, DO_NOTHING)
JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


class Attribute:
    """The base of every attribute: options, validation on assignment, and the codec.

    ``index`` is ``True`` (the type's natural index: numeric for numbers and
    dates, equality otherwise), or one of ``"equality"``, ``"numeric"``,
    ``"prefix"``; ``unique`` also implies an equality index.
    """

    python_types: ClassVar[tuple[type, ...]] = (object,)
    natural_index: ClassVar[str] = "equality"
    allowed_indexes: ClassVar[tuple[str, ...]] = ("equality",)
    type_name: ClassVar[str] = "value"

    def __init__(
        self,
        *,
        null: bool = False,
        default: Any = NOTHING,
        required: bool = False,
        index: bool | str = False,
        unique: bool = False,
        choices: Iterable[Any] | None = None,
        validators: Sequence[Callable[[Any], Any]] = (),
        primary_key: bool = False,
    ) -> None:
        self.null = null
        self.default = default
        self.required = required
        self.unique = unique
        self.primary_key = primary_key
        self.choices = list(choices) if choices is not None else None
        self.validators = list(validators)
        self.index: str | None = None
        self._requested_index = index
        self.name = ""
        self.model_name = ""
        self.field = b""
        self.model: type[ActiveRecord] | None = None

    # -- declaration -----------------------------------------------------
    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.model_name = owner.__name__

    def bind(self, model: type[ActiveRecord], name: str) -> None:
        """Attach to ``model`` as ``name`` and check the options (called by the model's metaclass)."""
        self.model = model
        self.name = name
        self.model_name = model.__name__
        self.field = name.encode()  # the hash field holding the value
        index = self._requested_index
        if index is True:
            index = self.natural_index
        if index and index not in self.allowed_indexes:
            raise DefinitionError(
                f"{self.model_name}.{name}: a {type(self).__name__} attribute cannot have "
                f"{'an' if index[0] in 'aeiou' else 'a'} {index} index"
                + (f" (allowed: {', '.join(self.allowed_indexes)})" if self.allowed_indexes else "")
            )
        if self.unique and not self.allowed_indexes:
            raise DefinitionError(f"{self.model_name}.{name}: a {type(self).__name__} attribute cannot be unique")
        if self.unique and not index:
            index = "equality" if "equality" in self.allowed_indexes else self.allowed_indexes[0]
        self.index = index or None
        if self.choices is not None:
            self.choices = [self.clean(c) for c in self.choices]

    # -- descriptor ---------------------------------------------------------
    def __get__(self, record: Any, owner: type | None = None) -> Any:
        if record is None:
            return self
        return record._data.get(self.name)

    def __set__(self, record: Any, value: Any) -> None:
        value = self.clean(value)
        if self.primary_key:
            if record._stored is not None and value != record._data.get(self.name):
                raise self.invalid(value, "the primary key of a saved record cannot change (create a new record instead)")
            record._id_text = None  # the record's cached id text
        record._data[self.name] = value
        record._dirty[self.name] = None

    # -- validation -------------------------------------------------------------
    def invalid(self, value: Any, reason: str) -> ValidationError:
        """Build the ValidationError for ``value``."""
        return ValidationError(self.model_name, self.name, value, reason)

    def clean(self, value: Any) -> Any:
        """Return ``value`` normalised, or raise :class:`ValidationError`."""
        if value is None:
            if not self.null and not self.primary_key:
                raise self.invalid(value, "this attribute is not nullable (declare null=True to allow None)")
            return None
        value = self.convert(value)
        if self.choices is not None and value not in self.choices:
            raise self.invalid(value, f"must be one of {self.choices!r}")
        for validator in self.validators:
            try:
                outcome = validator(value)
            except (ValueError, TypeError) as error:
                raise self.invalid(value, str(error) or type(error).__name__) from None
            if outcome is False:
                raise self.invalid(value, f"rejected by validator {getattr(validator, '__name__', validator)!r}")
        return value

    def convert(self, value: Any) -> Any:
        """Turn an accepted Python value into this attribute's type (subclasses refine)."""
        if not isinstance(value, self.python_types):
            raise self.invalid(value, f"expected {self.type_name}, got {type(value).__name__}")
        return value

    def default_value(self) -> Any:
        """Return the default for a new record (calling a callable default)."""
        if self.default is NOTHING:
            return None
        # A non-callable default is copied, so records never share a mutable value.
        value = self.default() if callable(self.default) else copy.deepcopy(self.default)
        return self.clean(value) if value is not None else None

    # -- codec --------------------------------------------------------------------
    def to_redis(self, value: Any) -> bytes:
        """Encode a clean, non-null value as the bytes stored in the hash."""
        return str(value).encode()

    def from_redis(self, raw: bytes) -> Any:
        """Decode stored bytes (raise ValueError/TypeError when they are not valid)."""
        return raw.decode()

    def to_text(self, value: Any) -> str:
        """Return the stored form of a clean, non-null value as text (how a key names a record by its id)."""
        return self.to_redis(value).decode()

    def score(self, value: Any) -> float:
        """Return the sorted-set score of a value (numeric indexes)."""
        raise TypeError(f"{type(self).__name__} has no numeric score")

    def __repr__(self) -> str:
        where = f"{self.model_name}.{self.name}" if self.name else "unbound"
        return f"<{type(self).__name__} {where}>"


class Unicode(Attribute):
    """Text (``str``); ``max_length`` optional; may have an equality or prefix index."""

    python_types = (str,)
    allowed_indexes = ("equality", "prefix")
    type_name = "text (str)"

    def __init__(self, *, max_length: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.max_length = max_length

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            return super().convert(value)  # raises the type error
        if self.max_length is not None and len(value) > self.max_length:
            raise self.invalid(value, f"longer than max_length={self.max_length}")
        return value

    def to_redis(self, value: Any) -> bytes:
        return value.encode()  # type: ignore[no-any-return]


class Bytes(Attribute):
    """Raw bytes; ``str`` values are encoded as UTF-8 (as in the Repocket tutorial)."""

    python_types = (bytes, bytearray, memoryview, str)
    type_name = "bytes"

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        return value.encode() if isinstance(value, str) else bytes(value)

    def to_redis(self, value: Any) -> bytes:
        return value  # type: ignore[no-any-return]

    def from_redis(self, raw: bytes) -> Any:
        return bytes(raw)


class _Numeric(Attribute):
    natural_index = "numeric"
    allowed_indexes = ("numeric", "equality")


class Integer(_Numeric):
    """A whole number (``int``, not ``bool``)."""

    python_types = (int,)
    type_name = "an integer"

    def convert(self, value: Any) -> Any:
        if type(value) is int:
            return value
        if isinstance(value, bool):
            raise self.invalid(value, "expected an integer, got bool")
        return super().convert(value)

    def from_redis(self, raw: bytes) -> Any:
        return int(raw)

    def score(self, value: Any) -> float:
        return float(value)


class Float(_Numeric):
    """A floating point number (ints are accepted and converted)."""

    python_types = (float, int)
    type_name = "a number"

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise self.invalid(value, "expected a number, got bool")
        number = float(super().convert(value))
        if math.isnan(number):
            raise self.invalid(value, "NaN cannot be stored or indexed")
        return number

    def to_redis(self, value: Any) -> bytes:
        return repr(value).encode()

    def from_redis(self, raw: bytes) -> Any:
        return float(raw)

    def score(self, value: Any) -> float:
        return float(value)


class Decimal(_Numeric):
    """An exact decimal number (``decimal.Decimal``; ints and numeric strings accepted)."""

    python_types = (decimal.Decimal, int, str)
    type_name = "a decimal number"

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise self.invalid(value, "expected a decimal number, got bool")
        value = super().convert(value)
        try:
            number = decimal.Decimal(value)
        except decimal.InvalidOperation:
            raise self.invalid(value, "not a decimal number") from None
        if not number.is_finite():
            raise self.invalid(value, "must be finite")
        return number

    def from_redis(self, raw: bytes) -> Any:
        try:
            return decimal.Decimal(raw.decode())
        except decimal.InvalidOperation:
            raise ValueError(f"not a decimal number: {raw!r}") from None

    def score(self, value: Any) -> float:
        return float(value)


class Boolean(Attribute):
    """``True`` or ``False``, stored as ``true`` / ``false``."""

    python_types = (bool,)
    type_name = "a bool"

    def to_redis(self, value: Any) -> bytes:
        return b"true" if value else b"false"

    def from_redis(self, raw: bytes) -> Any:
        if raw == b"true":
            return True
        if raw == b"false":
            return False
        raise ValueError(f"not a boolean: {raw!r}")


class DateTime(_Numeric):
    """A timezone-aware ``datetime``, kept in UTC; ``auto_now`` / ``auto_now_add`` set it on save.

    A naive datetime is rejected with :class:`ValidationError`.
    """

    python_types = (dt.datetime,)
    type_name = "a datetime"

    def __init__(self, *, auto_now: bool = False, auto_now_add: bool = False, **options: Any) -> None:
        if auto_now or auto_now_add:
            options.setdefault("null", True)
        super().__init__(**options)
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.invalid(value, "naive datetime: pass a timezone-aware one, e.g. datetime.now(timezone.utc)")
        return value.astimezone(dt.timezone.utc)

    def to_redis(self, value: Any) -> bytes:
        return value.isoformat().encode()  # type: ignore[no-any-return]

    def from_redis(self, raw: bytes) -> Any:
        value = dt.datetime.fromisoformat(raw.decode())
        if value.tzinfo is None:
            raise ValueError(f"naive datetime stored: {raw!r}")
        return value

    def score(self, value: Any) -> float:
        return value.timestamp()  # type: ignore[no-any-return]


class Date(_Numeric):
    """A calendar ``date`` (a datetime is refused: use DateTime)."""

    python_types = (dt.date,)
    type_name = "a date"

    def convert(self, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            raise self.invalid(value, "expected a date, got a datetime (use .date() or a DateTime attribute)")
        return super().convert(value)

    def to_redis(self, value: Any) -> bytes:
        return value.isoformat().encode()  # type: ignore[no-any-return]

    def from_redis(self, raw: bytes) -> Any:
        return dt.date.fromisoformat(raw.decode())

    def score(self, value: Any) -> float:
        return float(value.toordinal())


class Time(_Numeric):
    """A time of day (``datetime.time``)."""

    python_types = (dt.time,)
    type_name = "a time"

    def to_redis(self, value: Any) -> bytes:
        return value.isoformat().encode()  # type: ignore[no-any-return]

    def from_redis(self, raw: bytes) -> Any:
        return dt.time.fromisoformat(raw.decode())

    def score(self, value: Any) -> float:
        return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6  # type: ignore[no-any-return]


class UUID(Attribute):
    """A ``uuid.UUID`` (its string form is accepted)."""

    python_types = (uuid.UUID, str)
    type_name = "a UUID"

    def convert(self, value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return value
        value = super().convert(value)
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                raise self.invalid(value, "badly formed UUID") from None
        return value

    def from_redis(self, raw: bytes) -> Any:
        return uuid.UUID(raw.decode())

    def to_text(self, value: Any) -> str:
        return str(value)


class AutoUUID(UUID):
    """A UUID primary key, generated (uuid4) when a record is saved without one."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("primary_key", True)
        options.setdefault("default", uuid.uuid4)
        super().__init__(**options)


class JSON(Attribute):
    """Any JSON-serialisable value, stored as JSON text; cannot be indexed."""

    allowed_indexes = ()
    type_name = "a JSON value"

    def convert(self, value: Any) -> Any:
        # Normalised to what reading it back gives (tuples become lists); values
        # JSON has no type for (datetime, dataclasses, sets) are refused.
        try:
            return orjson.loads(orjson.dumps(value, option=JSON_OPTIONS))
        except TypeError as error:
            raise self.invalid(value, f"not JSON serialisable: {error}") from None

    def to_redis(self, value: Any) -> bytes:
        return orjson.dumps(value, option=JSON_OPTIONS)

    def from_redis(self, raw: bytes) -> Any:
        return orjson.loads(raw)


class Enum(Attribute):
    """A member of an ``enum.Enum``; its value or name are accepted; stored as the name."""

    type_name = "an enum member"

    def __init__(self, enum_class: type[enum.Enum], **options: Any) -> None:
        if not (isinstance(enum_class, type) and issubclass(enum_class, enum.Enum)):
            raise DefinitionError(f"Enum() takes an enum.Enum subclass, not {enum_class!r}")
        super().__init__(**options)
        self.enum_class = enum_class

    def convert(self, value: Any) -> Any:
        if isinstance(value, self.enum_class):
            return value
        try:
            return self.enum_class(value)
        except ValueError:
            pass
        if isinstance(value, str) and value in self.enum_class.__members__:
            return self.enum_class[value]
        names = ", ".join(self.enum_class.__members__)
        raise self.invalid(value, f"not a member of {self.enum_class.__name__} ({names})")

    def to_redis(self, value: Any) -> bytes:
        return value.name.encode()  # type: ignore[no-any-return]

    def from_redis(self, raw: bytes) -> Any:
        try:
            return self.enum_class[raw.decode()]
        except KeyError:
            raise ValueError(f"{raw!r} is not a member of {self.enum_class.__name__}") from None


class Pointer(Attribute):
    """A reference to another record (a soft foreign key), stored as its id.

    Reading it returns the record (loaded on first access, in one batch for
    every record of the same query).  ``related_name`` adds a query of the
    pointing records to the target model (``project.builds``).  ``to`` may be
    the model class or its name (for models declared later).  ``on_delete``
    says what deleting the target does to the records pointing to it:
    ``DO_NOTHING`` (default), ``CASCADE``, ``SET_NULL`` or ``PROTECT`` (see
    :mod:`.relations`); any action but ``DO_NOTHING`` implies an equality
    index, which finds those records, and ``SET_NULL`` implies ``null=True``.
    """

    type_name = "a record"

    def __init__(self, to: Any, *, related_name: str | None = None, on_delete: str = DO_NOTHING, **options: Any) -> None:
        if on_delete not in ON_DELETE:
            raise DefinitionError(f"Pointer(on_delete=...) takes CASCADE, SET_NULL, PROTECT or DO_NOTHING, not {on_delete!r}")
        if on_delete != DO_NOTHING and not options.get("index"):
            options["index"] = True
        if on_delete == SET_NULL:
            options["null"] = True  # the pointer becomes None when its target is deleted
        super().__init__(**options)
        self.to = to
        self.related_name = related_name
        self.on_delete = on_delete

    def bind(self, model: type[ActiveRecord], name: str) -> None:
        if not isinstance(self.to, str) and not (isinstance(self.to, type) and hasattr(self.to, "_meta")):
            raise DefinitionError(
                f"{model.__name__}.{name}: Pointer() must point to an ActiveRecord subclass or its name, not {self.to!r}"
            )
        super().bind(model, name)

    @property
    def target(self) -> type[ActiveRecord]:
        """Return the pointed-to model (resolving a name on first use)."""
        if isinstance(self.to, str):
            from .registry import models

            model = models.get(self.to)
            if model is None:
                raise DefinitionError(f"{self.model_name}.{self.name}: no model named {self.to!r} is declared")
            self.to = model
        return self.to  # type: ignore[no-any-return]

    def target_is(self, model: type[ActiveRecord]) -> bool:
        """Tell whether this pointer points to ``model`` (or to an earlier definition of it)."""
        try:
            target = self.target
        except DefinitionError:
            return False
        return target is model or target._meta.keys.tag == model._meta.keys.tag

    def __get__(self, record: Any, owner: type | None = None) -> Any:
        if record is None:
            return self
        return record._pointer(self)

    def __set__(self, record: Any, value: Any) -> None:
        ident = self.clean(value)
        record._data[self.name] = ident
        record._dirty[self.name] = None
        record._pointers.pop(self.name, None)
        if value is not None and not isinstance(value, str | uuid.UUID | int | bytes):
            record._pointers[self.name] = value

    def convert(self, value: Any) -> Any:
        target = self.target
        if hasattr(type(value), "_meta"):  # a record
            if not isinstance(value, target):
                raise self.invalid(value, f"expected a {target.__name__}, got a {type(value).__name__}")
            if value.pk is None:
                raise self.invalid(value, f"the {target.__name__} has no id yet: save it first")
            return value.pk
        return target._meta.pk.clean(value)

    def to_redis(self, value: Any) -> bytes:
        return self.target._meta.pk.to_redis(value)

    def from_redis(self, raw: bytes) -> Any:
        return self.target._meta.pk.from_redis(raw)


class ByteStream(Attribute):
    """Bytes kept in their own string key; ``record.stdout.append(b"...")`` is one APPEND."""

    python_types = (bytes, bytearray, memoryview, str)
    allowed_indexes = ()
    type_name = "bytes"

    def __get__(self, record: Any, owner: type | None = None) -> Any:
        if record is None:
            return self
        from .streams import StreamHandle

        return StreamHandle(record, self)

    def __set__(self, record: Any, value: Any) -> None:
        value = self.clean(value)
        record._data[self.name] = value
        record._dirty[self.name] = None

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        return value.encode() if isinstance(value, str) else bytes(value)

    def to_redis(self, value: Any) -> bytes:
        return value  # type: ignore[no-any-return]

    def from_redis(self, raw: bytes) -> Any:
        return bytes(raw)


__all__ = [
    "CASCADE",
    "DO_NOTHING",
    "JSON",
    "PROTECT",
    "SET_NULL",
    "UUID",
    "Attribute",
    "AutoUUID",
    "Boolean",
    "ByteStream",
    "Bytes",
    "Date",
    "DateTime",
    "Decimal",
    "Enum",
    "Float",
    "Integer",
    "Pointer",
    "Time",
    "Unicode",
]

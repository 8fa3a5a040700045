"""What the Lua libraries share: Lua's conversions of values and the errors they raise.

Lua numbers arrive from lupa as ``int`` when integral, else ``float``;
values handed back to Lua must fit a C ``long`` as ints, so bigger integers
go back as floats, as Lua would hold them anyway.
"""

from __future__ import annotations

import math
from typing import Any

from lupa import lua51

lua_type = lua51.lua_type  # (the Lua type of a value lupa hands over: "table", "function" ...)


def lua_number(value: float) -> int | float:
    """Return a number as lupa can hand it to Lua (a double, or an int that fits a C long)."""
    if type(value) is int and not -(2**63) <= value < 2**63:
        return float(value)
    return value


def to_number(value: Any) -> float | int | None:
    """Convert like ``lua_tonumber``: numbers and numeric strings, else ``None``."""
    kind = type(value)
    if kind is int or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is bytes:
        text = value.strip()
        try:
            if text[:2].lower() == b"0x" or text[:3].lower() in (b"-0x", b"+0x"):
                return int(text, 16)
            return float(text)
        except ValueError:
            return None
    return None


def to_string(value: Any) -> bytes | None:
    """Convert like ``lua_tolstring``: strings and numbers (``%.14g``), else ``None``."""
    kind = type(value)
    if kind is bytes:
        return value  # type: ignore[no-any-return]
    if kind is int or kind is float:
        return format_number(value)
    return None


def format_number(value: float) -> bytes:
    """Format a number as Lua's ``tostring`` does (``%.14g``)."""
    if value != value:
        return b"nan" if math.copysign(1, value) > 0 else b"-nan"
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.14g" % value


def type_name(value: Any) -> str:
    """Return Lua's name of a value's type (``lua_typename``)."""
    if value is None:
        return "nil"
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is bytes:
        return "string"
    if kind is int or kind is float:
        return "number"
    return lua_type(value) or "userdata"


class LibraryContext:
    """What the libraries need of their runtime: tables, the null value, and Lua errors."""

    def __init__(self, runtime: Any, error_class: type[Exception]) -> None:
        self.runtime = runtime
        self.lua = runtime.lua
        self.error_class = error_class

    def raw_error(self, message: str) -> Exception:
        """Return the error Lua's own runtime raises from C code (no position prefix)."""
        return self.error_class(message.encode())

    def fail(self, message: str) -> Exception:
        """Return ``luaL_error(message)``: an error prefixed with the script's position."""
        return self.runtime._fail_here(message)  # type: ignore[no-any-return]

    def bad_argument(self, index: int, function: str, message: str) -> Exception:
        """Return ``luaL_argerror``'s error, naming the function as its caller called it (``?`` from pcall)."""
        name = self.runtime.helper_name()
        called = name.decode("utf-8", "replace") if isinstance(name, bytes) else "?"
        return self.fail(f"bad argument #{index} to '{called}' ({message})")

    def check_number(self, args: tuple[Any, ...], index: int, function: str) -> float | int:
        """Return argument ``index`` (0-based) as ``luaL_checknumber`` does."""
        value = to_number(args[index]) if index < len(args) else None
        if value is None:
            got = "no value" if index >= len(args) else type_name(args[index])
            raise self.bad_argument(index + 1, function, f"number expected, got {got}")
        return value

    def check_integer(self, args: tuple[Any, ...], index: int, function: str) -> int:
        """Return argument ``index`` as ``luaL_checkinteger`` does (truncated toward zero)."""
        number = self.check_number(args, index, function)
        return int(number) if math.isfinite(number) else -(2**63)

    def optional_integer(self, args: tuple[Any, ...], index: int, function: str, default: int) -> int:
        """Return argument ``index`` as ``luaL_optinteger`` does."""
        if index >= len(args) or args[index] is None:
            return default
        return self.check_integer(args, index, function)

    def check_string(self, args: tuple[Any, ...], index: int, function: str) -> bytes:
        """Return argument ``index`` as ``luaL_checklstring`` does (numbers become strings)."""
        value = to_string(args[index]) if index < len(args) else None
        if value is None:
            got = "no value" if index >= len(args) else type_name(args[index])
            raise self.bad_argument(index + 1, function, f"string expected, got {got}")
        return value

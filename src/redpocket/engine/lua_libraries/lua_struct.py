"""``struct``: Roberto Ierusalimschy's struct library (pack, unpack, size) with Redis's build settings."""

from __future__ import annotations

import math
import struct as _struct
from typing import Any, Final

from .common import LibraryContext, lua_number, to_number

_MAXINTSIZE: Final = 32
_MAXALIGN: Final = 8
_SIZES: Final = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}


class _Format:
    """A cursor over a struct format string, with the header (endianness, alignment) it sets."""

    def __init__(self, context: LibraryContext, text: bytes, function: str) -> None:
        self.context = context
        self.text = text.split(b"\0", 1)[0].decode("latin-1")  # (a C string)
        self.index = 0
        self.little = True  # native: x86-64
        self.align = 1
        self.function = function

    def number(self, default: int) -> int:
        text, start = self.text, self.index
        while self.index < len(text) and text[self.index].isdigit():
            self.index += 1
        if start == self.index:
            return default
        value = int(text[start : self.index])
        if value > 2**31 - 1:
            raise self.context.fail("integral size overflow")
        return value

    def size(self, option: str) -> int:
        """Return the size of ``option`` (optsize), reading its count where it takes one."""
        if option in _SIZES:
            return _SIZES[option]
        if option == "c":
            return self.number(1)
        if option in "iI":
            size = self.number(4)
            if size > _MAXINTSIZE:
                raise self.context.fail(f"integral size {size} is larger than limit of {_MAXINTSIZE}")
            return size
        return 0

    def padding(self, length: int, option: str, size: int) -> int:
        if size == 0 or option == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, option: str) -> None:
        """Apply a control option (controloptions), or refuse an unknown one."""
        if option == " ":
            return
        if option == ">":
            self.little = False
        elif option == "<":
            self.little = True
        elif option == "!":
            align = self.number(_MAXALIGN)
            if align <= 0 or align & (align - 1):
                raise self.context.fail(f"alignment {align} is not a power of 2")
            self.align = align
        else:
            raise self.context.bad_argument(1, self.function, f"invalid format option '{option}'")


def _integer_bytes(number: float, size: int, little: bool) -> bytes:
    value = int(number) if math.isfinite(number) else -(2**63)
    value &= (1 << 64) - 1  # (Uinttype: unsigned long)
    out = bytearray()
    for _ in range(size):
        out.append(value & 0xFF)
        value >>= 8
    return bytes(out if little else out[::-1])


def struct_library(context: LibraryContext) -> dict[bytes, Any]:
    """Return the functions of the ``struct`` table."""

    def pack(*args: Any) -> bytes:
        form = _Format(context, context.check_string(args, 0, "pack"), "pack")
        args = (*args, None)  # (b_pack pushes a nil after its arguments: the first missing one is "nil")
        out = bytearray()
        argument = 1
        total = 0
        while form.index < len(form.text):
            option = form.text[form.index]
            form.index += 1
            size = form.size(option)
            pad = form.padding(total, option, size)
            total += pad
            out += b"\0" * pad
            if option in "bBhHlLTiI":
                number = context.check_number(args, argument, "pack")
                argument += 1
                out += _integer_bytes(number, size, form.little)
            elif option == "x":
                out += b"\0"
            elif option in "fd":
                number = float(context.check_number(args, argument, "pack"))
                argument += 1
                code = ("<" if form.little else ">") + option
                try:
                    out += _struct.pack(code, number)
                except OverflowError:  # (a C cast to float gives infinity)
                    out += _struct.pack(code, math.copysign(math.inf, number))
            elif option in "cs":
                text = context.check_string(args, argument, "pack")
                argument += 1
                if size == 0:
                    size = len(text)
                if len(text) < size:
                    raise context.bad_argument(argument + 1, "pack", "string too short")  # (C's arg, already advanced)
                out += text[:size]
                if option == "s":
                    out += b"\0"
                    size += 1
            else:
                form.control(option)
            total += size
        return bytes(out)

    def unpack(*args: Any) -> tuple[Any, ...]:
        form = _Format(context, context.check_string(args, 0, "unpack"), "unpack")
        data = context.check_string(args, 1, "unpack")
        position = context.optional_integer(args, 2, "unpack", 1)
        if position <= 0:
            raise context.bad_argument(3, "unpack", "offset must be 1 or greater")
        position -= 1
        results: list[Any] = []
        while form.index < len(form.text):
            option = form.text[form.index]
            form.index += 1
            size = form.size(option)
            position += form.padding(position, option, size)
            if not (size <= len(data) and position <= len(data) - size):
                raise context.bad_argument(2, "unpack", "data string too short")
            chunk = data[position : position + size]
            if option in "bBhHlLTiI":
                value = int.from_bytes(chunk, "little" if form.little else "big")
                if option.islower() and size and value & (1 << (size * 8 - 1)):
                    value -= 1 << (size * 8)
                value = _c_long_wrap(value, size, option.islower())
                results.append(lua_number(float(value)) if abs(value) >= 2**53 else value)
            elif option in "fd":
                number = _struct.unpack(("<" if form.little else ">") + option, chunk)[0]
                results.append(lua_number(number))
            elif option == "c":
                if size == 0:
                    previous = results[-1] if results else None
                    if not results or to_number(previous) is None:
                        raise context.fail("format 'c0' needs a previous size")
                    size = int(to_number(previous))  # type: ignore[arg-type]
                    results.pop()
                    if not (size <= len(data) and position <= len(data) - size):
                        raise context.bad_argument(2, "unpack", "data string too short")
                results.append(data[position : position + size])
            elif option == "s":
                end = data.find(b"\0", position)
                if end < 0:
                    raise context.fail("unfinished string in data")
                size = end - position + 1
                results.append(data[position:end])
            elif option != "x":
                form.control(option)
            position += size
        return (*results, position + 1)

    def size(*args: Any) -> int:
        form = _Format(context, context.check_string(args, 0, "size"), "size")
        position = 0
        while form.index < len(form.text):
            option = form.text[form.index]
            form.index += 1
            length = form.size(option)
            position += form.padding(position, option, length)
            if option == "s":
                raise context.bad_argument(1, "size", "option 's' has no fixed size")
            if option == "c" and length == 0:
                raise context.bad_argument(1, "size", "option 'c0' has no fixed size")
            if not option.isalnum():
                form.control(option)
            position += length
        return position

    return {b"pack": pack, b"unpack": unpack, b"size": size}


def _c_long_wrap(value: int, size: int, signed: bool) -> int:
    """Wrap an integer read from more than 8 bytes as C's unsigned long arithmetic does."""
    if size <= 8:
        return value
    value &= (1 << 64) - 1
    if signed and value & (1 << 63):
        value -= 1 << 64
    return value

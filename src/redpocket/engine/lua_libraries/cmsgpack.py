"""``cmsgpack``: lua-cmsgpack 0.4 (pack, unpack, unpack_one, unpack_limit)."""

from __future__ import annotations

import math
import struct as _struct
from collections.abc import Callable
from typing import Any, Final

from .common import LibraryContext, lua_number, lua_type

_MSGPACK_MAX_NESTING: Final = 16


class MsgpackError(Exception):
    """A cmsgpack decoding error: ``"Missing bytes in input."`` or ``"Bad data format in input."``."""


def msgpack_encode(value: Any, out: bytearray, level: int = 0) -> None:
    """Append ``value``'s MessagePack encoding as lua-cmsgpack writes it."""
    kind = type(value)
    if kind is bytes:
        length = len(value)
        if length < 32:
            out.append(0xA0 | length)
        elif length <= 0xFF:
            out += b"\xd9" + bytes((length,))
        elif length <= 0xFFFF:
            out += b"\xda" + length.to_bytes(2, "big")
        else:
            out += b"\xdb" + length.to_bytes(4, "big")
        out += value
    elif kind is bool:
        out.append(0xC3 if value else 0xC2)
    elif kind is int or kind is float:
        _msgpack_number(value, out)
    elif lua_type(value) == "table" and level < _MSGPACK_MAX_NESTING:
        items = list(value.items())
        largest = 0
        array = True
        for key, _item in items:
            key_kind = type(key)
            if not (key_kind is int or key_kind is float) or key <= 0 or key != int(key) or key >= 2**31:
                array = False
                break
            largest = max(largest, int(key))
        if array and largest == len(items):
            _msgpack_header(out, len(items), 0x90, 0xDC)
            for index in range(1, len(items) + 1):
                msgpack_encode(value[index], out, level + 1)
        else:
            _msgpack_header(out, len(items), 0x80, 0xDE)
            for key, item in items:
                msgpack_encode(key, out, level + 1)
                msgpack_encode(item, out, level + 1)
    else:
        out.append(0xC0)


def _msgpack_header(out: bytearray, count: int, fix: int, wide: int) -> None:
    if count <= 15:
        out.append(fix | count)
    elif count <= 0xFFFF:
        out += bytes((wide,)) + count.to_bytes(2, "big")
    else:
        out += bytes((wide + 1,)) + count.to_bytes(4, "big")


def _msgpack_number(value: float, out: bytearray) -> None:
    number = float(value) if type(value) is int and abs(value) >= 2**53 else value
    if math.isfinite(number) and -(2**63) <= number < 2**63 and number == int(number):
        _msgpack_int(int(number), out)
    elif _fits_float(number):
        out += b"\xca" + _struct.pack(">f", number)
    else:
        out += b"\xcb" + _struct.pack(">d", number)


def _fits_float(number: float) -> bool:
    """Tell whether a C cast to float keeps ``number`` (never for NaN, which equals nothing)."""
    try:
        return bool(_struct.unpack(">f", _struct.pack(">f", number))[0] == number)
    except OverflowError:
        return False


def _msgpack_int(n: int, out: bytearray) -> None:
    if n >= 0:
        if n <= 127:
            out.append(n)
        elif n <= 0xFF:
            out += b"\xcc" + bytes((n,))
        elif n <= 0xFFFF:
            out += b"\xcd" + n.to_bytes(2, "big")
        elif n <= 0xFFFFFFFF:
            out += b"\xce" + n.to_bytes(4, "big")
        else:
            out += b"\xcf" + n.to_bytes(8, "big")
    elif n >= -32:
        out.append(n & 0xFF)
    elif n >= -128:
        out += b"\xd0" + n.to_bytes(1, "big", signed=True)
    elif n >= -32768:
        out += b"\xd1" + n.to_bytes(2, "big", signed=True)
    elif n >= -(2**31):
        out += b"\xd2" + n.to_bytes(4, "big", signed=True)
    else:
        out += b"\xd3" + n.to_bytes(8, "big", signed=True)


class MsgpackDecoder:
    """lua-cmsgpack's decoder over one string."""

    def __init__(self, data: bytes, position: int, make_table: Callable[[], Any], context: LibraryContext) -> None:
        self.data = data
        self.position = position
        self.make_table = make_table
        self.context = context

    def need(self, count: int) -> None:
        if self.position + count > len(self.data):
            raise MsgpackError("Missing bytes in input.")

    def take(self, count: int) -> bytes:
        self.need(count)
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def decode(self) -> Any:
        """Decode one value."""
        first = self.take(1)[0]
        if first <= 0x7F:
            return first
        if first >= 0xE0:
            return first - 256
        if first & 0xE0 == 0xA0:
            return self.take(first & 0x1F)
        if first & 0xF0 == 0x90:
            return self.array(first & 0x0F)
        if first & 0xF0 == 0x80:
            return self.map(first & 0x0F)
        if first == 0xC0:
            return None
        if first == 0xC2:
            return False
        if first == 0xC3:
            return True
        fixed = _MSGPACK_FIXED.get(first)
        if fixed is not None:
            size, form = fixed
            value = _struct.unpack(form, self.take(size))[0]
            return lua_number(value)
        sized = _MSGPACK_SIZED.get(first)
        if sized is not None:
            width, kind = sized
            count = int.from_bytes(self.take(width), "big")
            if kind == "string":
                return self.take(count)
            return self.array(count) if kind == "array" else self.map(count)
        self.position -= 1
        raise MsgpackError("Bad data format in input.")

    def array(self, count: int) -> Any:
        table = self.make_table()
        for index in range(1, count + 1):
            table[index] = self.decode()
        return table

    def map(self, count: int) -> Any:
        table = self.make_table()
        for _ in range(count):
            key = self.decode()
            value = self.decode()
            if key is None:
                raise self.context.raw_error("table index is nil")
            if type(key) is float and key != key:
                raise self.context.raw_error("table index is NaN")
            table[key] = value
        return table


# (uint 64 is read as a signed integer: Lua 5.1's lua_pushunsigned is lua_pushinteger)
_MSGPACK_FIXED: Final = {0xCC: (1, ">B"), 0xCD: (2, ">H"), 0xCE: (4, ">I"), 0xCF: (8, ">q"),
                         0xD0: (1, ">b"), 0xD1: (2, ">h"), 0xD2: (4, ">i"), 0xD3: (8, ">q"),
                         0xCA: (4, ">f"), 0xCB: (8, ">d")}
_MSGPACK_SIZED: Final = {0xD9: (1, "string"), 0xDA: (2, "string"), 0xDB: (4, "string"),
                         0xDC: (2, "array"), 0xDD: (4, "array"), 0xDE: (2, "map"), 0xDF: (4, "map")}


def cmsgpack_library(context: LibraryContext) -> dict[bytes, Any]:
    """Return the functions of the ``cmsgpack`` table."""
    make_table = context.lua.table

    def pack(*args: Any) -> bytes:
        if not args:
            raise context.bad_argument(0, "pack", "MessagePack pack needs input.")
        out = bytearray()
        for value in args:
            msgpack_encode(value, out)
        return bytes(out)

    def unpack_full(args: tuple[Any, ...], function: str, limit: int, offset: int) -> tuple[Any, ...]:
        data = context.check_string(args, 0, function)
        decode_all = not limit and not offset
        if offset < 0 or limit < 0:
            raise context.fail(f"Invalid request to unpack with offset of {offset} and limit of {len(data)}.")
        if offset > len(data):
            raise context.fail(f"Start offset {offset} greater than input length {len(data)}.")
        decoder = MsgpackDecoder(data, offset, make_table, context)
        values: list[Any] = []
        count = 0
        while decoder.position < len(data) and (decode_all or count < limit):
            try:
                values.append(decoder.decode())
            except MsgpackError as error:
                raise context.fail(str(error)) from None
            count += 1
        if decode_all:
            return tuple(values)
        return (-1 if decoder.position >= len(data) else decoder.position, *values)

    def unpack(*args: Any) -> tuple[Any, ...]:
        return unpack_full(args, "unpack", 0, 0)

    def unpack_one(*args: Any) -> tuple[Any, ...]:
        offset = context.optional_integer(args, 1, "unpack_one", 0)
        return unpack_full(args[:1], "unpack_one", 1, offset)

    def unpack_limit(*args: Any) -> tuple[Any, ...]:
        limit = context.check_integer(args, 1, "unpack_limit")
        offset = context.optional_integer(args, 2, "unpack_limit", 0)
        return unpack_full(args[:1], "unpack_limit", limit, offset)

    return {
        b"pack": pack, b"unpack": unpack, b"unpack_one": unpack_one, b"unpack_limit": unpack_limit,
        b"_NAME": b"cmsgpack", b"_VERSION": b"lua-cmsgpack 0.4.0",
        b"_COPYRIGHT": b"Copyright (C) 2012, Salvatore Sanfilippo",
        b"_DESCRIPTION": b"MessagePack C implementation for Lua",
    }

"""The Lua libraries Redis 7.0 gives scripts: ``cjson``, ``cmsgpack``, ``struct`` and ``bit``.

Written here in Python and exposed to Lua through lupa, following the
behaviour of the C modules Redis bundles (lua-cjson 2.1 with Redis's
settings, lua-cmsgpack 0.4, Roberto Ierusalimschy's struct, LuaBitOp):
the same encodings byte for byte, the same results and the same error
texts.  :func:`libraries` builds the tables for one
:class:`~redpocket.engine.scripting.ScriptRuntime`, whose helpers raise
Lua errors (``fail_here`` is ``luaL_error``: the message prefixed with the
script's position).

Lua numbers arrive from lupa as ``int`` when integral, else ``float``;
values handed back to Lua must fit a C ``long`` as ints, so bigger integers
go back as floats, as Lua would hold them anyway.
"""

from __future__ import annotations

import math
import re
import struct as _struct
import sys
from collections.abc import Callable
from typing import Any, Final

from lupa import lua51

_lua_type = lua51.lua_type


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
    return _lua_type(value) or "userdata"


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


# -- cjson ------------------------------------------------------------------------
_JSON_ESCAPES: Final = {i: b"\\u%04x" % i for i in range(32)}
_JSON_ESCAPES.update({0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0C: b"\\f", 0x0D: b"\\r",
                      0x22: b'\\"', 0x5C: b"\\\\", 0x2F: b"\\/", 0x7F: b"\\u007f"})
_JSON_NEEDS_ESCAPE: Final = re.compile(rb'[\x00-\x1f"\\/\x7f]')


class JsonError(Exception):
    """A cjson error message (raised as a Lua error by the caller)."""


def json_string(value: bytes) -> bytes:
    """Return ``value`` as a JSON string, escaped as lua-cjson does (``/`` and DEL too)."""
    if _JSON_NEEDS_ESCAPE.search(value) is None:
        return b'"' + value + b'"'
    return b'"' + _JSON_NEEDS_ESCAPE.sub(lambda m: _JSON_ESCAPES[m.group()[0]], value) + b'"'


class JsonConfig:
    """lua-cjson's settings, which scripts may change (``cjson.encode_max_depth(n)`` ...) for the Lua state."""

    def __init__(self) -> None:
        self.sparse_convert = False
        self.sparse_ratio = 2
        self.sparse_safe = 10
        self.encode_max_depth = 1000
        self.decode_max_depth = 1000
        self.precision = 14
        self.encode_invalid_numbers = 0  # 0 off, 1 on, 2 null
        self.decode_invalid_numbers = True
        self.keep_buffer = True


def deep_enough() -> None:
    """Let Python recurse as deep as cjson's 1,000 levels of nesting (plus the frames under a script)."""
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)


_RECURSION_LIMIT: Final = 5000


class JsonEncoder:
    """lua-cjson's encoder under one configuration."""

    def __init__(self, config: JsonConfig, is_null: Callable[[Any], bool]) -> None:
        self.config = config
        self.is_null = is_null

    def number(self, value: float) -> bytes:
        """Format a number as lua-cjson does (``%.14g`` by default); NaN and infinities as configured."""
        if math.isinf(value) or math.isnan(value):
            mode = self.config.encode_invalid_numbers
            if mode == 0:
                raise JsonError("Cannot serialise number: must not be NaN or Inf")
            if mode == 2:
                return b"null"
            if math.isnan(value):
                return b"nan"
        return b"%.*g" % (self.config.precision, value)

    def encode(self, value: Any, depth: int = 0) -> bytes:
        """Serialise a Lua value as ``cjson.encode`` does."""
        kind = type(value)
        if kind is bytes:
            return json_string(value)
        if kind is bool:
            return b"true" if value else b"false"
        if kind is int or kind is float:
            return self.number(value)
        if value is None:
            return b"null"
        lua_kind = _lua_type(value)
        if lua_kind != "table":
            if lua_kind == "userdata" and self.is_null(value):
                return b"null"
            raise JsonError(f"Cannot serialise {lua_kind or 'userdata'}: type not supported")
        depth += 1
        if depth > self.config.encode_max_depth:
            raise JsonError(f"Cannot serialise, excessive nesting ({depth})")
        items = list(value.items())
        length = self.array_length(items)
        if length > 0:
            slots = [b"null"] * length
            for key, item in items:
                slots[int(key) - 1] = self.encode(item, depth)
            return b"[" + b",".join(slots) + b"]"
        parts = []
        for key, item in items:
            key_kind = type(key)
            if key_kind is bytes:
                name = json_string(key)
            elif key_kind is int or key_kind is float:
                name = b'"' + self.number(key) + b'"'
            else:
                raise JsonError(f"Cannot serialise {type_name(key)}: table key must be a number or string")
            parts.append(name + b":" + self.encode(item, depth))
        return b"{" + b",".join(parts) + b"}"

    def array_length(self, items: list[tuple[Any, Any]]) -> int:
        """Return the array length of a table's items, or -1 for an object (lua_array_length)."""
        largest = 0
        for key, _item in items:
            kind = type(key)
            if (kind is int or kind is float) and key and math.floor(key) == key and key >= 1:
                largest = max(largest, int(key))
                continue
            return -1
        config = self.config
        if config.sparse_ratio > 0 and largest > len(items) * config.sparse_ratio and largest > config.sparse_safe:
            if not config.sparse_convert:
                raise JsonError("Cannot serialise table: excessively sparse array")
            return -1
        return largest


_JSON_NUMBER: Final = re.compile(
    rb"[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    rb"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN](?:\([0-9a-zA-Z_]*\))?)")
_JSON_SIMPLE: Final = {ord("{"): "T_OBJ_BEGIN", ord("}"): "T_OBJ_END", ord("["): "T_ARR_BEGIN",
                       ord("]"): "T_ARR_END", ord(","): "T_COMMA", ord(":"): "T_COLON"}
_JSON_UNESCAPE: Final = {ord('"'): 0x22, ord("\\"): 0x5C, ord("/"): 0x2F, ord("b"): 0x08, ord("t"): 0x09,
                         ord("n"): 0x0A, ord("f"): 0x0C, ord("r"): 0x0D}
_NUMBER_START: Final = frozenset(b"+-0123456789iInN")


def _strtod(text: bytes) -> float:
    """Convert what ``_JSON_NUMBER`` matched as C's strtod does."""
    body = text.lstrip(b"+-")
    sign = -1.0 if text.startswith(b"-") else 1.0
    if body[:2].lower() == b"0x":
        if b"p" not in body.lower():
            body += b"p0"
        return sign * float.fromhex(body.decode())
    lowered = body.lower()
    if lowered.startswith(b"inf"):
        return sign * math.inf
    if lowered.startswith(b"nan"):
        return math.copysign(math.nan, sign)
    return sign * float(body)


class JsonDecoder:
    """lua-cjson's decoder: its tokens, its error messages and its character positions."""

    def __init__(self, data: bytes, make_table: Callable[[], Any], null: Any, config: JsonConfig) -> None:
        self.config = config
        end = data.find(b"\0")
        self.data = data if end < 0 else data[:end]  # (a C string: a NUL byte ends it)
        self.position = 0
        self.depth = 0
        self.make_table = make_table
        self.null = null

    def decode(self) -> Any:
        """Decode the whole text into a Lua value."""
        token = self.next_token()
        value = self.value(token)
        token = self.next_token()
        if token[0] != "T_END":
            self.expected("the end", token)
        return value

    def next_token(self) -> tuple[str, Any, int]:
        """Return ``(type, value, index)``; errors are tokens of type ``T_ERROR`` carrying their reason."""
        data, position = self.data, self.position
        while position < len(data) and data[position] in b" \t\n\r":
            position += 1
        self.position = position
        if position >= len(data):
            return ("T_END", None, position)
        char = data[position]
        simple = _JSON_SIMPLE.get(char)
        if simple is not None:
            self.position += 1
            return (simple, None, position)
        if char == 0x22:
            return self.string_token()
        if char in b"-0123456789":
            if not self.config.decode_invalid_numbers and self._invalid_number():
                return ("T_ERROR", "invalid number", position)
            return self.number_token(position)
        for word, kind, value in ((b"true", "T_BOOLEAN", True), (b"false", "T_BOOLEAN", False),
                                  (b"null", "T_NULL", None)):
            if data.startswith(word, position):
                self.position += len(word)
                return (kind, value, position)
        if char in _NUMBER_START and self.config.decode_invalid_numbers and self._invalid_number():
            return self.number_token(position)
        return ("T_ERROR", "invalid token", position)

    def number_token(self, position: int) -> tuple[str, Any, int]:
        """Read a number as C's strtod does (json_next_number_token)."""
        match = _JSON_NUMBER.match(self.data, position)
        if match is None:
            return ("T_ERROR", "invalid number", position)
        self.position = match.end()
        return ("T_NUMBER", _strtod(match.group()), position)

    def _invalid_number(self) -> bool:
        """json_is_invalid_number: the numbers lua-cjson accepts beyond JSON's (hex, inf, nan, +...)."""
        data, position = self.data, self.position
        if data[position : position + 1] == b"+":
            return True
        if data[position : position + 1] == b"-":
            position += 1
        if data[position : position + 1] == b"0":
            following = data[position + 1 : position + 2]
            return following in (b"x", b"X") or following.isdigit()
        if data[position : position + 1] <= b"9" and position < len(data):
            return False
        head = data[position : position + 3].lower()
        return head in (b"inf", b"nan")

    def string_token(self) -> tuple[str, Any, int]:
        data = self.data
        start = self.position
        position = start + 1
        out = bytearray()
        while True:
            if position >= len(data):
                return self._string_error("unexpected end of string", position)
            char = data[position]
            if char == 0x22:
                break
            if char != 0x5C:
                out.append(char)
                position += 1
                continue
            escape = data[position + 1] if position + 1 < len(data) else 0
            if escape == ord("u"):
                decoded, length = _unicode_escape(data, position)
                if decoded is None:
                    return self._string_error("invalid unicode escape code", position)
                out += decoded
                position += length
                continue
            replacement = _JSON_UNESCAPE.get(escape)
            if replacement is None:
                return self._string_error("invalid escape code", position)
            out.append(replacement)
            position += 2
        self.position = position + 1
        return ("T_STRING", bytes(out), start)

    def _string_error(self, reason: str, position: int) -> tuple[str, Any, int]:
        self.position = position
        return ("T_ERROR", reason, position)

    def expected(self, what: str, token: tuple[str, Any, int]) -> None:
        found = token[1] if token[0] == "T_ERROR" else token[0]
        raise JsonError(f"Expected {what} but found {found} at character {token[2] + 1}")

    def value(self, token: tuple[str, Any, int]) -> Any:
        kind = token[0]
        if kind in ("T_STRING", "T_BOOLEAN"):
            return token[1]
        if kind == "T_NUMBER":
            return lua_number(token[1])
        if kind == "T_NULL":
            return self.null
        if kind == "T_OBJ_BEGIN":
            return self.object()
        if kind == "T_ARR_BEGIN":
            return self.array()
        self.expected("value", token)
        return None  # (never reached)

    def _descend(self) -> None:
        self.depth += 1
        if self.depth > self.config.decode_max_depth:
            raise JsonError(f"Found too many nested data structures ({self.depth}) at character {self.position}")

    def object(self) -> Any:
        self._descend()
        table = self.make_table()
        token = self.next_token()
        if token[0] == "T_OBJ_END":
            self.depth -= 1
            return table
        while True:
            if token[0] != "T_STRING":
                self.expected("object key string", token)
            key = token[1]
            token = self.next_token()
            if token[0] != "T_COLON":
                self.expected("colon", token)
            table[key] = self.value(self.next_token())
            token = self.next_token()
            if token[0] == "T_OBJ_END":
                self.depth -= 1
                return table
            if token[0] != "T_COMMA":
                self.expected("comma or object end", token)
            token = self.next_token()

    def array(self) -> Any:
        self._descend()
        table = self.make_table()
        token = self.next_token()
        if token[0] == "T_ARR_END":
            self.depth -= 1
            return table
        index = 1
        while True:
            table[index] = self.value(token)
            index += 1
            token = self.next_token()
            if token[0] == "T_ARR_END":
                self.depth -= 1
                return table
            if token[0] != "T_COMMA":
                self.expected("comma or array end", token)
            token = self.next_token()


def _hex4(data: bytes, position: int) -> int:
    digits = data[position : position + 4]
    if len(digits) != 4 or any(d not in b"0123456789abcdefABCDEF" for d in digits):
        return -1
    return int(digits, 16)


def _unicode_escape(data: bytes, position: int) -> tuple[bytes | None, int]:
    """Decode ``\\uXXXX`` (or a surrogate pair) at ``position`` into UTF-8; ``(None, 0)`` if invalid."""
    codepoint = _hex4(data, position + 2)
    if codepoint < 0:
        return None, 0
    length = 6
    if codepoint & 0xF800 == 0xD800:
        if codepoint & 0x400 or data[position + 6 : position + 8] != b"\\u":
            return None, 0
        low = _hex4(data, position + 8)
        if low < 0 or low & 0xFC00 != 0xDC00:
            return None, 0
        codepoint = (((codepoint & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
        length = 12
    return chr(codepoint).encode("utf-8", "surrogatepass"), length


# -- cmsgpack -----------------------------------------------------------------------
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
    elif _lua_type(value) == "table" and level < _MSGPACK_MAX_NESTING:
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


# -- struct ---------------------------------------------------------------------------
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


# -- bit (LuaBitOp) ----------------------------------------------------------------------
def _tobit(value: Any) -> int:
    """Normalise a number to a signed 32-bit integer as LuaBitOp does: the low word of ``n + 2^52 + 2^51``."""
    bits = _struct.unpack("<Q", _struct.pack("<d", float(value) + 6755399441055744.0))[0] & 0xFFFFFFFF
    return bits - 0x100000000 if bits & 0x80000000 else bits


def _signed32(value: int) -> int:
    """Return the low 32 bits of an integer as a signed 32-bit integer."""
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value & 0x80000000 else value


def bit_library(context: LibraryContext) -> dict[bytes, Any]:
    """Return the functions of the ``bit`` table."""

    def check(args: tuple[Any, ...], index: int, function: str) -> int:
        return _tobit(context.check_number(args, index, function))

    def fold(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
        def apply(*args: Any) -> int:
            result = check(args, 0, name) & 0xFFFFFFFF
            for index in range(1, len(args)):
                result = op(result, check(args, index, name) & 0xFFFFFFFF)
            return _signed32(result)

        return apply

    def shift(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
        def apply(*args: Any) -> int:
            value = check(args, 0, name) & 0xFFFFFFFF
            amount = check(args, 1, name) & 31
            return _signed32(op(value, amount))

        return apply

    def tobit(*args: Any) -> int:
        return check(args, 0, "tobit")

    def bnot(*args: Any) -> int:
        return _signed32(~check(args, 0, "bnot"))

    def tohex(*args: Any) -> bytes:
        value = check(args, 0, "tohex") & 0xFFFFFFFF
        count = check(args, 1, "tohex") if len(args) > 1 and args[1] is not None else 8
        upper = count < 0
        count = min(abs(count), 8) if count != -(2**31) else 8
        text = b"%0*x" % (count, value & ((1 << (4 * count)) - 1)) if count else b""
        return text.upper() if upper else text

    def bswap(*args: Any) -> int:
        value = check(args, 0, "bswap") & 0xFFFFFFFF
        return _signed32(int.from_bytes(value.to_bytes(4, "big"), "little"))

    return {
        b"tobit": tobit,
        b"tohex": tohex,
        b"bnot": bnot,
        b"band": fold("band", lambda a, b: a & b),
        b"bor": fold("bor", lambda a, b: a | b),
        b"bxor": fold("bxor", lambda a, b: a ^ b),
        b"lshift": shift("lshift", lambda v, n: v << n),
        b"rshift": shift("rshift", lambda v, n: v >> n),
        b"arshift": shift("arshift", lambda v, n: (v - (1 << 32) if v & 0x80000000 else v) >> n),
        b"rol": shift("rol", lambda v, n: ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF),
        b"ror": shift("ror", lambda v, n: ((v >> n) | (v << (32 - n))) & 0xFFFFFFFF),
        b"bswap": bswap,
    }


def cjson_library(context: LibraryContext, null: Any, is_null: Callable[[Any], bool]) -> dict[bytes, Any]:
    """Return the functions of the ``cjson`` table (``cjson.null`` and the settings functions included)."""
    make_table = context.lua.table
    config = JsonConfig()
    encoder = JsonEncoder(config, is_null)

    def encode(*args: Any) -> bytes:
        if len(args) != 1:
            raise context.bad_argument(1, "encode", "expected 1 argument")
        deep_enough()
        try:
            return encoder.encode(args[0])
        except JsonError as error:
            raise context.fail(str(error)) from None

    def decode(*args: Any) -> Any:
        if len(args) != 1:
            raise context.bad_argument(1, "decode", "expected 1 argument")
        text = context.check_string(args, 0, "decode")
        if len(text) >= 2 and (not text[0] or not text[1]):
            raise context.fail("JSON parser does not support UTF-16 or UTF-32")
        deep_enough()
        try:
            return JsonDecoder(text, make_table, null, config).decode()
        except JsonError as error:
            raise context.fail(str(error)) from None

    def arguments(args: tuple[Any, ...], count: int, name: str) -> tuple[Any, ...]:
        if len(args) > count:
            raise context.bad_argument(count + 1, name, "found too many arguments")
        return (*args, *([None] * (count - len(args))))

    def integer_option(args: tuple[Any, ...], index: int, name: str, current: int, low: int, high: int) -> int:
        if args[index] is None:
            return current
        value = context.check_integer(args, index, name)
        if not low <= value <= high:
            raise context.bad_argument(1, name, f"expected integer between {low} and {high}")
        return value

    def enum_option(args: tuple[Any, ...], index: int, name: str, current: int, options: tuple[bytes, ...]) -> int:
        value = args[index]
        if value is None:
            return current
        if type(value) is bool:
            return 1 if value else 0
        text = context.check_string(args, index, name)
        if text not in options:
            raise context.bad_argument(index + 1, name, f"invalid option '{text.decode('utf-8', 'replace')}'")
        return options.index(text)

    def enum_reply(setting: int, options: tuple[bytes, ...]) -> Any:
        return bool(setting) if setting in (0, 1) else options[setting]

    switch = (b"off", b"on")

    def encode_sparse_array(*args: Any) -> tuple[Any, ...]:
        args = arguments(args, 3, "encode_sparse_array")
        config.sparse_convert = bool(enum_option(args, 0, "encode_sparse_array", int(config.sparse_convert), switch))
        config.sparse_ratio = integer_option(args, 1, "encode_sparse_array", config.sparse_ratio, 0, 2**31 - 1)
        config.sparse_safe = integer_option(args, 2, "encode_sparse_array", config.sparse_safe, 0, 2**31 - 1)
        return (config.sparse_convert, config.sparse_ratio, config.sparse_safe)

    def encode_max_depth(*args: Any) -> int:
        args = arguments(args, 1, "encode_max_depth")
        config.encode_max_depth = integer_option(args, 0, "encode_max_depth", config.encode_max_depth, 1, 2**31 - 1)
        return config.encode_max_depth

    def decode_max_depth(*args: Any) -> int:
        args = arguments(args, 1, "decode_max_depth")
        config.decode_max_depth = integer_option(args, 0, "decode_max_depth", config.decode_max_depth, 1, 2**31 - 1)
        return config.decode_max_depth

    def encode_number_precision(*args: Any) -> int:
        args = arguments(args, 1, "encode_number_precision")
        config.precision = integer_option(args, 0, "encode_number_precision", config.precision, 1, 14)
        return config.precision

    def encode_keep_buffer(*args: Any) -> bool:
        args = arguments(args, 1, "encode_keep_buffer")
        config.keep_buffer = bool(enum_option(args, 0, "encode_keep_buffer", int(config.keep_buffer), switch))
        return config.keep_buffer

    invalid = (b"off", b"on", b"null")

    def encode_invalid_numbers(*args: Any) -> Any:
        args = arguments(args, 1, "encode_invalid_numbers")
        config.encode_invalid_numbers = enum_option(
            args, 0, "encode_invalid_numbers", config.encode_invalid_numbers, invalid)
        return enum_reply(config.encode_invalid_numbers, invalid)

    def decode_invalid_numbers(*args: Any) -> bool:
        args = arguments(args, 1, "decode_invalid_numbers")
        config.decode_invalid_numbers = bool(enum_option(
            args, 0, "decode_invalid_numbers", int(config.decode_invalid_numbers), switch))
        return config.decode_invalid_numbers

    return {b"encode": encode, b"decode": decode, b"null": null, b"_NAME": b"cjson", b"_VERSION": b"2.1.0",
            b"encode_sparse_array": encode_sparse_array, b"encode_max_depth": encode_max_depth,
            b"decode_max_depth": decode_max_depth, b"encode_number_precision": encode_number_precision,
            b"encode_keep_buffer": encode_keep_buffer, b"encode_invalid_numbers": encode_invalid_numbers,
            b"decode_invalid_numbers": decode_invalid_numbers}

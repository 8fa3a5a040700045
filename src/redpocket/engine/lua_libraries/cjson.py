"""``cjson``: lua-cjson 2.1 as Redis configures it (encode, decode, null and the settings functions)."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import Any, Final

from .common import LibraryContext, lua_number, lua_type, type_name

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
        lua_kind = lua_type(value)
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

"""Argument parsing shared by every command handler.

Each parser raises the exact error reply Redis gives for a malformed
argument, so handlers never format those messages themselves.
"""

from __future__ import annotations

import math
import re
from typing import Final

from .replies import NOT_FLOAT, NOT_INTEGER, SYNTAX, ReplyError

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def to_int(value: bytes, message: str = NOT_INTEGER) -> int:
    """Parse a 64-bit signed integer the way Redis's ``string2ll`` does."""
    # Fast path: up to 18 digits without a leading zero always fit.
    if value.isdigit() and len(value) < 19 and value[0] != 48:
        return int(value)
    if is_int(value):
        return int(value)
    raise ReplyError(message)


def is_int(value: bytes) -> bool:
    """Tell whether ``string2ll`` accepts ``value``: the canonical text of a 64-bit integer.

    An optional '-', no '+', no spaces, no leading zeros ("-0" and "00" are refused).
    """
    if value == b"0":
        return True
    digits = value[1:] if value[:1] == b"-" else value
    if not digits.isdigit() or digits[0] == 48 or len(digits) > 19:
        return False
    return len(digits) < 19 or INT64_MIN <= int(value) <= INT64_MAX


_STRTOD: Final = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:"
    rb"(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(inf(?:inity)?)"
    rb"|(nan(?:\([0-9A-Za-z_]*\))?)"
    rb")\Z",
    re.IGNORECASE,
)
_NONZERO_DIGIT: Final = re.compile(rb"[1-9a-fA-F]")
# The common case, which float() reads exactly as strtod does.
PLAIN_DECIMAL: Final = re.compile(rb"-?[0-9]+(?:\.[0-9]*)?\Z").match


def strtod(text: bytes) -> tuple[float, bool] | None:
    """Parse ``text`` as C's ``strtod`` consuming all of it: return ``(value, out_of_range)`` or ``None``.

    ``out_of_range`` is C's ``ERANGE``: an overflow (the value is then
    ``±inf``) or an underflow to zero.
    """
    found = _STRTOD.match(text)
    if found is None:
        return None
    hexa, decimal, _inf, nan = found.groups()
    if nan is not None:
        return math.nan, False
    if hexa is not None:
        negative = text.lstrip(b" \t\n\v\f\r")[:1] == b"-"
        mantissa = hexa[2:].split(b"p")[0].split(b"P")[0]
        try:
            value = float.fromhex(hexa.decode())
        except OverflowError:
            return (-math.inf if negative else math.inf), True
        value = -value if negative else value
    elif decimal is not None:
        mantissa = decimal.split(b"e")[0].split(b"E")[0]
        value = float(text)
    else:
        return float(text), False
    if math.isinf(value):
        return value, True
    return value, value == 0 and _NONZERO_DIGIT.search(mantissa) is not None


def to_float(value: bytes, message: str = NOT_FLOAT) -> float:
    """Parse a score argument as Redis's ``getDoubleFromObject`` does."""
    # Fast path: a plain decimal too short to overflow or underflow reads the same in float() and strtod.
    # (digits with one dot are checked without the regular expression: "123.0" is what clients send.)
    if len(value) < 300 and (value.isdigit() or value.replace(b".", b"", 1).isdigit()
                             or PLAIN_DECIMAL(value) is not None):
        return float(value)
    if not value or value[0] in b" \t\n\v\f\r" or b"\0" in value:
        raise ReplyError(message)
    parsed = strtod(value)
    if parsed is None or parsed[1] or math.isnan(parsed[0]):
        raise ReplyError(message)
    return parsed[0]


class ArgCursor:
    """Walk a command's arguments left to right (mini-redis's ``Parse``)."""

    __slots__ = ("argv", "pos")

    def __init__(self, argv: list[bytes], pos: int = 1) -> None:
        self.argv = argv
        self.pos = pos

    def more(self) -> bool:
        """Tell whether arguments remain."""
        return self.pos < len(self.argv)

    def remaining(self) -> int:
        """Count the arguments not yet read."""
        return len(self.argv) - self.pos

    def next(self) -> bytes:
        """Return the next argument, or raise a syntax error when none is left."""
        if self.pos >= len(self.argv):
            raise ReplyError(SYNTAX)
        value = self.argv[self.pos]
        self.pos += 1
        return value

    def next_option(self) -> bytes:
        """Return the next argument upper-cased, for matching option names."""
        return self.next().upper()

    def next_int(self, message: str = NOT_INTEGER) -> int:
        """Return the next argument as a 64-bit integer."""
        return to_int(self.next(), message)

    def next_float(self, message: str = NOT_FLOAT) -> float:
        """Return the next argument as a double."""
        return to_float(self.next(), message)


_SPACE: Final = frozenset(b" \n\r\t\v\f")
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES: Final = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}


def split_args(line: bytes) -> list[bytes] | None:
    """Split an inline request as Redis's ``sdssplitargs``; ``None`` on unbalanced quotes."""
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_single:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _SPACE:
                    break
                if c == 34:
                    in_double = True
                elif c == 39:
                    in_single = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))

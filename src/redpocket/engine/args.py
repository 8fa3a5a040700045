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

# Redis's string2ll: optional '-', no '+', no spaces, no leading zeros.
_INT_RE: Final = re.compile(rb"(?:0|-?[1-9][0-9]*)\Z")
# strtod as Redis uses it: no leading space, whole string consumed, no nan.
_FLOAT_RE: Final = re.compile(
    rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?)\Z",
    re.IGNORECASE,
)


def to_int(value: bytes, message: str = NOT_INTEGER) -> int:
    """Parse a 64-bit signed integer the way Redis's ``string2ll`` does."""
    if len(value) > 20 or _INT_RE.match(value) is None:
        raise ReplyError(message)
    number = int(value)
    if number < INT64_MIN or number > INT64_MAX:
        raise ReplyError(message)
    return number


def is_int(value: bytes) -> bool:
    """Tell whether ``value`` is the canonical text of a 64-bit integer."""
    if len(value) > 20 or _INT_RE.match(value) is None:
        return False
    return INT64_MIN <= int(value) <= INT64_MAX


def to_float(value: bytes, message: str = NOT_FLOAT) -> float:
    """Parse a double the way Redis's ``getDoubleFromObject`` does (``inf`` allowed, ``nan`` not)."""
    if _FLOAT_RE.match(value) is None:
        raise ReplyError(message)
    result = float(value)
    if math.isnan(result):
        raise ReplyError(message)
    return result


def format_long_double(value: float) -> bytes:
    """Format like Redis's ``LD_STR_HUMAN`` (INCRBYFLOAT, HINCRBYFLOAT): no exponent, no trailing zeros."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    if text == b"-0":
        text = b"0"
    return text


def upper(value: bytes) -> bytes:
    """Upper-case an option name for comparison."""
    return value.upper()


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

"""Cursor, option and glob helpers for HSCAN and SSCAN.

Redis answers HSCAN/SSCAN of a small (listpack or intset) collection in
one reply with cursor 0.  A Python ``dict`` or ``set`` offers no stable
position a numeric cursor could resume from once fields are deleted
mid-scan, so every collection is answered that way here: one call
returns every element and cursor ``0``.  That honours SCAN's guarantees
(every element present for the whole scan is returned; COUNT is only a
hint) at the same total cost as a paginated scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final

from ..args import to_int
from ..replies import SYNTAX, ReplyError

INVALID_CURSOR: Final = "ERR invalid cursor"
_UINT64_MAX: Final = 2**64 - 1
_SPACE: Final = frozenset(b" \t\n\v\f\r")
_CURSOR_RE: Final = re.compile(rb"[+-]?[0-9]*\Z")

Matcher = Callable[[bytes], bool]


def parse_cursor(value: bytes) -> int:
    """Parse a SCAN cursor as Redis does (``strtoul``: ``-1`` wraps, ``""`` is 0)."""
    if not value:
        return 0
    if value[0] in _SPACE or _CURSOR_RE.match(value) is None:
        raise ReplyError(INVALID_CURSOR)
    digits = value.lstrip(b"+-")
    if not digits:
        raise ReplyError(INVALID_CURSOR)
    number = int(digits)
    if number > _UINT64_MAX:
        raise ReplyError(INVALID_CURSOR)
    if value[0] == 45:  # '-': strtoul negates modulo 2**64
        number = (-number) & _UINT64_MAX
    return number


def parse_scan_options(argv: list[bytes], pos: int) -> Matcher | None:
    """Read ``[MATCH pattern] [COUNT count]`` from ``argv[pos:]``; return the matcher (``None``: all)."""
    pattern: bytes | None = None
    argc = len(argv)
    while pos < argc:
        option = argv[pos].lower()
        if option == b"count" and argc - pos >= 2:
            if to_int(argv[pos + 1]) < 1:
                raise ReplyError(SYNTAX)
        elif option == b"match" and argc - pos >= 2:
            pattern = argv[pos + 1]
        else:
            raise ReplyError(SYNTAX)
        pos += 2
    if pattern is None or pattern == b"*":
        return None
    return compile_glob(pattern)


def _class_regex(pattern: bytes, pos: int) -> tuple[bytes, int]:
    """Translate the ``[...]`` class starting after ``[`` at ``pos``; return (regex, next pos).

    Follows ``stringmatchlen``: ``^`` negates, ``\\`` escapes, ``a-z`` is a
    range (reversed ends are swapped) and an unterminated class runs to the
    end of the pattern.
    """
    end = len(pattern)
    negate = pos < end and pattern[pos] == 94  # '^'
    if negate:
        pos += 1
    parts: list[bytes] = []
    while True:
        if pos < end and pattern[pos] == 92 and end - pos >= 2:  # '\\'
            parts.append(b"\\x%02x" % pattern[pos + 1])
            pos += 1
        elif pos < end and pattern[pos] == 93:  # ']'
            pos += 1
            break
        elif pos >= end:
            break
        elif end - pos >= 3 and pattern[pos + 1] == 45:  # '-'
            low, high = sorted((pattern[pos], pattern[pos + 2]))
            parts.append(b"\\x%02x-\\x%02x" % (low, high))
            pos += 2
        else:
            parts.append(b"\\x%02x" % pattern[pos])
        pos += 1
    if not parts:
        # An empty class matches nothing; negated, any single byte.
        return (b"(?s:.)" if negate else b"(?!)"), pos
    return b"[" + (b"^" if negate else b"") + b"".join(parts) + b"]", pos


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes) -> Matcher:
    """Compile a Redis glob (``stringmatchlen``) into a predicate on bytes."""
    out: list[bytes] = []
    pos, end = 0, len(pattern)
    while pos < end:
        char = pattern[pos]
        if char == 42:  # '*'
            if not out or out[-1] != b".*":
                out.append(b".*")
            pos += 1
        elif char == 63:  # '?'
            out.append(b".")
            pos += 1
        elif char == 91:  # '['
            regex, pos = _class_regex(pattern, pos + 1)
            out.append(regex)
        elif char == 92 and end - pos >= 2:  # '\\'
            out.append(re.escape(pattern[pos + 1 : pos + 2]))
            pos += 2
        else:
            out.append(re.escape(pattern[pos : pos + 1]))
            pos += 1
    match = re.compile(b"".join(out) + b"\\Z", re.DOTALL).match
    if not pattern:
        return lambda value: not value

    def matches(value: bytes) -> bool:
        # stringmatchlen never matches an empty string against a non-empty pattern.
        return bool(value) and match(value) is not None

    return matches

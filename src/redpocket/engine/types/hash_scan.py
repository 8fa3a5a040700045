"""Cursor and option helpers for HSCAN and SSCAN (patterns and cursors as in :mod:`.scan`).

Redis answers HSCAN/SSCAN of a small (listpack or intset) collection in
one reply with cursor 0.  A Python ``dict`` or ``set`` offers no stable
position a numeric cursor could resume from once fields are deleted
mid-scan, so every collection is answered that way here: one call
returns every element and cursor ``0``.  That honours SCAN's guarantees
(every element present for the whole scan is returned; COUNT is only a
hint) at the same total cost as a paginated scan.
"""

from __future__ import annotations

from collections.abc import Callable

from ..args import to_int
from ..replies import SYNTAX, ReplyError
from .scan import glob_matcher, parse_cursor

__all__ = ["Matcher", "parse_cursor", "parse_scan_options"]

Matcher = Callable[[bytes], bool]


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
    return glob_matcher(pattern)

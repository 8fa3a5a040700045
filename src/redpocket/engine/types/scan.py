"""Glob patterns and the keyspace cursor behind KEYS and SCAN.

:func:`glob_matcher` compiles a pattern with the exact semantics of Redis's
``stringmatchlen`` (``*``, ``?``, ``[abc]``, ``[^a]``, ``[a-z]``, backslash
escapes, and its quirks: ranges compare *signed* chars, an unterminated
class ends at the end of the pattern, a non-empty pattern never matches the
empty string).  The pattern is tokenized exactly as the C loop walks it and
its pieces between ``*`` turned into Python regular expressions, so matching
runs at C speed;
:func:`stringmatchlen` is the direct port, kept as the reference (and used
for the >1000 ``*`` patterns Redis's nesting guard rejects).

:class:`KeyspaceCursor` gives SCAN its guarantee without a hash table of our
own: keys are visited in the order of their (process-stable) hash, and the
cursor is the hash where the next call resumes.  The cursor is therefore
stateless; a sorted snapshot of the keys is only an accelerator, rebuilt
when a new iteration starts after the keyspace changed, so every key that
exists during a whole iteration is returned.
"""

from __future__ import annotations

import re
import weakref
from bisect import bisect_left
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from ..replies import ReplyError

if TYPE_CHECKING:
    from ..engine import Engine
    from ..keyspace import Database, Signals

INVALID_CURSOR: Final = "ERR invalid cursor"
UINT64: Final = 1 << 64
_MAX_NESTING: Final = 1000
_SPACE: Final = frozenset(b" \t\n\v\f\r")
_CURSOR_RE: Final = re.compile(rb"[+-]?([0-9]+)")

# Token kinds of a compiled pattern.
_STAR, _ANY, _CLASS, _LITERAL = range(4)


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _tokenize(pattern: bytes) -> list[tuple[int, Any]]:
    """Split ``pattern`` into tokens, walking it exactly as ``stringmatchlen`` does."""
    tokens: list[tuple[int, Any]] = []
    n = len(pattern)
    i = 0

    def at(k: int) -> int:  # the C string is NUL-terminated
        return pattern[k] if k < n else 0

    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*'
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            tokens.append((_STAR, None))
        elif c == 0x3F:  # '?'
            tokens.append((_ANY, None))
        elif c == 0x5B:  # '['
            i += 1
            negate = at(i) == 0x5E and i < n
            if negate:
                i += 1
            members: set[int] = set()
            while True:
                left = n - i
                if at(i) == 0x5C and left >= 2:
                    i += 1
                    members.add(pattern[i])
                elif at(i) == 0x5D:
                    break
                elif left == 0:
                    i -= 1
                    break
                elif left >= 3 and pattern[i + 1] == 0x2D:
                    start, end = _signed(pattern[i]), _signed(pattern[i + 2])
                    if start > end:
                        start, end = end, start
                    members.update(b for b in range(256) if start <= _signed(b) <= end)
                    i += 2
                else:
                    members.add(pattern[i])
                i += 1
            if negate:
                members = set(range(256)) - members
            tokens.append((_CLASS, frozenset(members)))
        elif c == 0x5C and n - i >= 2:  # '\\' escapes the next byte
            i += 1
            tokens.append((_LITERAL, pattern[i]))
        else:
            tokens.append((_LITERAL, c))
        i += 1
    return tokens


def _class_regex(members: frozenset[int]) -> bytes:
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    parts = []
    ordered = sorted(members)
    start = prev = ordered[0]
    for byte in [*ordered[1:], -2]:
        if byte != prev + 1:
            parts.append(b"\\x%02x" % start if start == prev else b"\\x%02x-\\x%02x" % (start, prev))
            start = byte
        prev = byte
    return b"[" + b"".join(parts) + b"]"


def _segment_regex(tokens: list[tuple[int, Any]]) -> re.Pattern[bytes]:
    """Compile the tokens between two ``*`` (each matches exactly one byte) to a regular expression."""
    parts = []
    for kind, value in tokens:
        if kind == _ANY:
            parts.append(b".")
        elif kind == _CLASS:
            parts.append(_class_regex(value))
        else:
            parts.append(b"\\x%02x" % value)
    return re.compile(b"".join(parts), re.DOTALL)


@lru_cache(maxsize=256)
def glob_matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """Return a predicate telling whether a string matches the glob ``pattern`` (Redis semantics).

    The pattern is cut at its ``*`` into fixed-length segments.  The first
    must match at the start and the last at the end; each one between takes
    its earliest match after the one before it.  The earliest is always
    right (a later one leaves the rest less room), so matching costs one
    regex search per segment, never the exponential backtracking a single
    ``a.*a.*...b`` regular expression meets on a long string of ``a``.
    """
    tokens = _tokenize(pattern)
    if sum(1 for kind, _ in tokens if kind == _STAR) > _MAX_NESTING:
        return lambda string: stringmatchlen(pattern, string)
    if not tokens:
        return lambda string: not string
    segments: list[list[tuple[int, Any]]] = [[]]
    for token in tokens:
        if token[0] == _STAR:
            segments.append([])
        else:
            segments[-1].append(token)
    if len(segments) == 1:
        fullmatch = _segment_regex(segments[0]).fullmatch
        # stringmatchlen never enters its loop for an empty string: only the empty pattern matches it.
        return lambda string: bool(string) and fullmatch(string) is not None
    head = _segment_regex(segments[0]).match
    head_length = len(segments[0])
    middle = [_segment_regex(segment).search for segment in segments[1:-1] if segment]
    tail = _segment_regex(segments[-1]).fullmatch
    tail_length = len(segments[-1])

    def matches(string: bytes) -> bool:
        if not string or head(string) is None:
            return False
        position = head_length
        for search in middle:
            found = search(string, position)
            if found is None:
                return False
            position = found.end()
        tail_start = len(string) - tail_length
        return tail_start >= position and tail(string, tail_start) is not None

    return matches


def stringmatchlen(pattern: bytes, string: bytes) -> bool:
    """Match ``string`` against ``pattern``: a direct port of Redis's ``stringmatchlen`` (case sensitive)."""
    skip_longer = [False]
    return _match(pattern, 0, string, 0, skip_longer, 0)


def _match(pattern: bytes, p: int, string: bytes, s: int, skip_longer: list[bool], nesting: int) -> bool:
    if nesting > _MAX_NESTING:
        return False
    plen, slen = len(pattern), len(string)

    def at(k: int) -> int:
        return pattern[k] if k < plen else 0

    while p < plen and s < slen:
        c = pattern[p]
        if c == 0x2A:
            while p + 1 < plen and pattern[p + 1] == 0x2A:
                p += 1
            if p + 1 == plen:
                return True
            while s < slen:
                if _match(pattern, p + 1, string, s, skip_longer, nesting + 1):
                    return True
                if skip_longer[0]:
                    return False
                s += 1
            skip_longer[0] = True
            return False
        if c == 0x3F:
            s += 1
        elif c == 0x5B:
            p += 1
            negate = p < plen and pattern[p] == 0x5E
            if negate:
                p += 1
            matched = False
            char = string[s]
            while True:
                left = plen - p
                if at(p) == 0x5C and left >= 2:
                    p += 1
                    if pattern[p] == char:
                        matched = True
                elif at(p) == 0x5D:
                    break
                elif left == 0:
                    p -= 1
                    break
                elif left >= 3 and pattern[p + 1] == 0x2D:
                    start, end = _signed(pattern[p]), _signed(pattern[p + 2])
                    if start > end:
                        start, end = end, start
                    if start <= _signed(char) <= end:
                        matched = True
                    p += 2
                elif pattern[p] == char:
                    matched = True
                p += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            s += 1
        else:
            if c == 0x5C and plen - p >= 2:
                p += 1
            if pattern[p] != string[s]:
                return False
            s += 1
        p += 1
        if s == slen:
            while at(p) == 0x2A:
                p += 1
            break
    return p >= plen and s == slen


def parse_cursor(value: bytes) -> int:
    """Parse a SCAN cursor as Redis does with ``strtoul`` (sign and leading zeros allowed, wraps mod 2**64)."""
    if value and value[0] in _SPACE:
        raise ReplyError(INVALID_CURSOR)
    text = value.split(b"\0", 1)[0]
    if not text:
        return 0
    found = _CURSOR_RE.fullmatch(text)
    if found is None:
        raise ReplyError(INVALID_CURSOR)
    number = int(found.group(1))
    if number >= UINT64:
        raise ReplyError(INVALID_CURSOR)
    return (UINT64 - number) % UINT64 if text[0] == 0x2D else number


def key_hash(key: bytes) -> int:
    """Return the unsigned 64-bit position of ``key`` in the SCAN order."""
    return hash(key) & (UINT64 - 1)


class KeyspaceCursor:
    """A snapshot of one database's keys sorted by :func:`key_hash`, to resume SCAN calls quickly."""

    __slots__ = ("data", "dirty", "hashes", "keys")

    def __init__(self, db: Database) -> None:
        keys = sorted(db.data, key=key_hash)
        self.data = db.data
        self.keys = keys
        self.hashes = [key_hash(key) for key in keys]
        self.dirty = db.signals.dirty

    def batch(self, cursor: int, count: int) -> tuple[list[bytes], int]:
        """Return about ``count`` keys from ``cursor`` on (keys sharing a hash together) and the next cursor."""
        hashes = self.hashes
        start = bisect_left(hashes, cursor)
        end = min(start + count, len(hashes))
        while 0 < end < len(hashes) and hashes[end] == hashes[end - 1]:
            end += 1
        return self.keys[start:end], (hashes[end] if end < len(hashes) else 0)


_cursors: weakref.WeakKeyDictionary[Signals, dict[int, KeyspaceCursor]] = weakref.WeakKeyDictionary()


def keyspace_cursor(db: Database, restart: bool) -> KeyspaceCursor:
    """Return the SCAN snapshot of ``db``, rebuilding it when an iteration restarts on a changed keyspace.

    A snapshot taken at or after the start of an iteration holds every key
    that existed during the whole iteration, whatever other SCANs do meanwhile.
    """
    per_db = _cursors.get(db.signals)
    if per_db is None:
        per_db = _cursors[db.signals] = {}
    snapshot = per_db.get(db.index)
    if (
        snapshot is None
        or snapshot.data is not db.data
        or (restart and (snapshot.dirty != db.signals.dirty or len(snapshot.keys) != len(db.data)))
    ):
        snapshot = per_db[db.index] = KeyspaceCursor(db)
    return snapshot


def forget_cursors(engine: Engine) -> None:
    """Drop every SCAN snapshot of ``engine`` (after FLUSHALL), to release the keys they hold."""
    _cursors.pop(engine.signals, None)

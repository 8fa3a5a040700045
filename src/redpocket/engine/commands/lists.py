"""List commands: pushes and pops, ranges, LPOS, moves and the blocking pops.

A list is a ``collections.deque`` of ``bytes``: O(1) at both ends like
Redis's quicklist, O(n) towards the middle (CPython walks a deque from its
nearer end, as quicklist does).

The blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) serve a
client at once when data is there; otherwise they return a
:class:`~redpocket.engine.blocking.Block` and the engine runs them again
each time a key is written, until they are served or time out.  Inside
MULTI/EXEC or a script (``not session.may_block``) they answer their
timeout reply at once, as Redis does for a client that may not block.

Redis 7.0 serves a blocked client only from a key that now holds a list: a
key that became, say, a string while the client waited is skipped, not an
error.  A re-run is told from a first run by the identity of ``argv``
(the engine re-runs the very same list), kept in :data:`_waiting` while the
client blocks.
"""

from __future__ import annotations

import math
import re
import weakref
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

from ..args import INT64_MIN, to_int
from ..blocking import Block
from ..longdouble import parse_long_double, round_fraction
from ..registry import define, numkeys_finder
from ..replies import (
    NO_SUCH_KEY,
    NOT_POSITIVE,
    NULL_ARRAY,
    OK,
    OUT_OF_RANGE,
    SYNTAX,
    WRONGTYPE,
    ReplyError,
)

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

_RANK_ZERO: Final = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
_TIMEOUT_NOT_FLOAT: Final = "ERR timeout is not a float or out of range"
_TIMEOUT_NEGATIVE: Final = "ERR timeout is negative"
_PLAIN_SECONDS: Final = re.compile(rb"[0-9]{1,15}\Z")
_INT64_LIMIT: Final = 2**63

# Blocked sessions and the argv they block with: a call with that very argv
# object is the engine re-running the command after a write.
_waiting: weakref.WeakKeyDictionary[Session, list[bytes]] = weakref.WeakKeyDictionary()


def list_encoding(value: deque[bytes], config: Any) -> bytes:
    """Return the ``OBJECT ENCODING`` of a list: Redis 7.0 stores every list as a quicklist."""
    return b"quicklist"


# -- argument parsing ----------------------------------------------------------


def _is_left(arg: bytes) -> bool:
    """Parse ``LEFT|RIGHT``: ``True`` for the head of the list."""
    option = arg.upper()
    if option == b"LEFT":
        return True
    if option == b"RIGHT":
        return False
    raise ReplyError(SYNTAX)


def _non_negative(arg: bytes, message: str) -> int:
    """Parse an integer >= 0 (Redis's ``getPositiveLongFromObjectOrReply``)."""
    number = to_int(arg, message)
    if number < 0:
        raise ReplyError(message)
    return number


def _at_least_one(arg: bytes, message: str) -> int:
    """Parse an integer >= 1, with one message for every failure."""
    number = to_int(arg, message)
    if number < 1:
        raise ReplyError(message)
    return number


def parse_timeout(arg: bytes) -> float:
    """Parse a blocking timeout in seconds; ``0`` waits forever.

    Redis 7.0 reads a ``long double``, takes ``ceill(seconds * 1000)``
    milliseconds and casts it to ``long long``: a value out of that range
    (``inf`` included) becomes ``LLONG_MIN`` and so "is negative", while a
    tiny negative such as ``-0.0001`` rounds up to ``0``: forever.
    """
    if _PLAIN_SECONDS.match(arg):
        return float(int(arg))
    value = parse_long_double(arg)
    if value is None:
        raise ReplyError(_TIMEOUT_NOT_FLOAT)
    if isinstance(value, float):  # an infinity
        raise ReplyError(_TIMEOUT_NEGATIVE)
    product = round_fraction(value * 1000)
    if isinstance(product, float):
        raise ReplyError(_TIMEOUT_NEGATIVE)
    millis = math.ceil(product)
    if millis < 0 or millis >= _INT64_LIMIT:
        raise ReplyError(_TIMEOUT_NEGATIVE)
    return millis / 1000


def _parse_mpop(argv: list[bytes], numkeys_index: int) -> tuple[list[bytes], bool, int]:
    """Parse ``numkeys key [key ...] LEFT|RIGHT [COUNT count]`` from ``numkeys_index`` on."""
    numkeys = _at_least_one(argv[numkeys_index], "ERR numkeys should be greater than 0")
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise ReplyError(SYNTAX)
    left = _is_left(argv[where_index])
    count = -1
    i = where_index + 1
    argc = len(argv)
    while i < argc:
        if count == -1 and i + 1 < argc and argv[i].upper() == b"COUNT":
            count = _at_least_one(argv[i + 1], "ERR count should be greater than 0")
            i += 2
        else:
            raise ReplyError(SYNTAX)
    return argv[numkeys_index + 1 : where_index], left, 1 if count == -1 else count


# -- list helpers --------------------------------------------------------------


def _pop_many(db: Database, key: bytes, items: deque[bytes], left: bool, count: int) -> list[bytes]:
    """Pop up to ``count`` elements from one end of a stored list, deleting it when emptied."""
    size = len(items)
    if count >= size:
        out = list(items)
        if not left:
            out.reverse()
        items.clear()
    else:
        pop = items.popleft if left else items.pop
        out = [pop() for _ in range(count)]
    db.modified(key)
    db.notify("l", b"lpop" if left else b"rpop", key)
    if not items:
        db.remove_if_empty(key, items)
    return out


def _move(db: Database, source: bytes, destination: bytes, from_left: bool, to_left: bool) -> bytes | None:
    """Pop from ``source`` and push onto ``destination`` (LMOVE); ``None`` when there is no source."""
    items = db.lookup_write(source, deque)
    if items is None:
        return None
    target = db.lookup_write(destination, deque)
    value = items.popleft() if from_left else items.pop()
    if target is None:
        target = deque()
        db.add(destination, target)
    else:
        db.modified(destination)
    if to_left:
        target.appendleft(value)
    else:
        target.append(value)
    db.notify("l", b"lpush" if to_left else b"rpush", destination)
    db.modified(source)
    db.notify("l", b"lpop" if from_left else b"rpop", source)
    if not items:
        db.remove_if_empty(source, items)
    return value


def _block(session: Session, argv: list[bytes], keys: list[bytes], timeout: float, at_once: Any) -> Any:
    """Wait for ``keys`` (or answer ``at_once`` when this client may not block)."""
    if not session.may_block:
        return at_once
    _waiting[session] = argv
    return Block(keys, timeout, NULL_ARRAY)


# -- pushes ----------------------------------------------------------------------


def _push(session: Session, argv: list[bytes], left: bool) -> int:
    """Push onto a list, creating it (LPUSH/RPUSH)."""
    db = session.db
    key = argv[1]
    items = db.lookup_write(key, deque)
    if items is None:
        items = deque()
        db.add(key, items)
    else:
        db.modified(key)
    if len(argv) == 3:  # one element, the common case: no slice
        if left:
            items.appendleft(argv[2])
        else:
            items.append(argv[2])
    elif left:
        items.extendleft(argv[2:])
    else:
        items.extend(argv[2:])
    db.notify("l", b"lpush" if left else b"rpush", key)
    return len(items)


def _push_existing(session: Session, argv: list[bytes], left: bool) -> int:
    """Push onto a list only if it exists (LPUSHX/RPUSHX)."""
    db = session.db
    key = argv[1]
    items = db.lookup_write(key, deque)
    if items is None:
        return 0
    if left:
        items.extendleft(argv[2:])
    else:
        items.extend(argv[2:])
    db.modified(key)
    db.notify("l", b"lpush" if left else b"rpush", key)
    return len(items)


@define("lpush", -3, "write denyoom fast", 1, 1, 1, group="list")
def lpush(session: Session, argv: list[bytes]) -> Any:
    """LPUSH key element [element ...]"""
    return _push(session, argv, True)


@define("rpush", -3, "write denyoom fast", 1, 1, 1, group="list")
def rpush(session: Session, argv: list[bytes]) -> Any:
    """RPUSH key element [element ...]"""
    return _push(session, argv, False)


@define("lpushx", -3, "write denyoom fast", 1, 1, 1, group="list", since="2.2.0")
def lpushx(session: Session, argv: list[bytes]) -> Any:
    """LPUSHX key element [element ...]"""
    return _push_existing(session, argv, True)


@define("rpushx", -3, "write denyoom fast", 1, 1, 1, group="list", since="2.2.0")
def rpushx(session: Session, argv: list[bytes]) -> Any:
    """RPUSHX key element [element ...]"""
    return _push_existing(session, argv, False)


# -- pops ------------------------------------------------------------------------


def _pop(session: Session, argv: list[bytes], left: bool) -> Any:
    """Pop one element, or ``count`` elements as an array (LPOP/RPOP)."""
    argc = len(argv)
    if argc > 3:
        raise ReplyError(f"ERR wrong number of arguments for '{'lpop' if left else 'rpop'}' command")
    db = session.db
    key = argv[1]
    if argc == 3:
        count = _non_negative(argv[2], NOT_POSITIVE)
        items = db.lookup_write(key, deque)
        if items is None:
            return NULL_ARRAY
        if not count:
            return []
        return _pop_many(db, key, items, left, count)
    items = db.lookup_write(key, deque)
    if items is None:
        return None
    value = items.popleft() if left else items.pop()
    db.modified(key)
    db.notify("l", b"lpop" if left else b"rpop", key)
    if not items:
        db.remove_if_empty(key, items)
    return value


@define("lpop", -2, "write fast", 1, 1, 1, group="list")
def lpop(session: Session, argv: list[bytes]) -> Any:
    """LPOP key [count]"""
    return _pop(session, argv, True)


@define("rpop", -2, "write fast", 1, 1, 1, group="list")
def rpop(session: Session, argv: list[bytes]) -> Any:
    """RPOP key [count]"""
    return _pop(session, argv, False)


# -- reads -----------------------------------------------------------------------


@define("llen", 2, "readonly fast", 1, 1, 1, group="list")
def llen(session: Session, argv: list[bytes]) -> Any:
    """LLEN key"""
    items = session.db.lookup_read(argv[1], deque)
    return 0 if items is None else len(items)


@define("lrange", 4, "readonly", 1, 1, 1, group="list")
def lrange(session: Session, argv: list[bytes]) -> Any:
    """LRANGE key start stop"""
    start = to_int(argv[2])
    end = to_int(argv[3])
    items = session.db.lookup_read(argv[1], deque)
    if items is None:
        return []
    size = len(items)
    if start < 0:
        start += size
        if start < 0:
            start = 0
    if end < 0:
        end += size
    if start > end or start >= size:
        return []
    if end >= size:
        end = size - 1
    if start == 0 and end == size - 1:
        return list(items)
    if start > size - 1 - end:
        # Nearer the tail: walk from there, as quicklist does.
        out = list(islice(reversed(items), size - 1 - end, size - start))
        out.reverse()
        return out
    return list(islice(items, start, end + 1))


@define("lindex", 3, "readonly", 1, 1, 1, group="list")
def lindex(session: Session, argv: list[bytes]) -> Any:
    """LINDEX key index"""
    items = session.db.lookup_read(argv[1], deque)
    if items is None:
        return None
    index = to_int(argv[2])
    size = len(items)
    if -size <= index < size:
        return items[index]
    return None


@define("lpos", -3, "readonly", 1, 1, 1, group="list", since="6.0.6")
def lpos(session: Session, argv: list[bytes]) -> Any:
    """LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]"""
    rank, count, maxlen = 1, -1, 0
    i, argc = 3, len(argv)
    while i < argc:
        option = argv[i].upper()
        if i + 1 >= argc:
            raise ReplyError(SYNTAX)
        if option == b"RANK":
            rank = to_int(argv[i + 1])
            if rank == 0:
                raise ReplyError(_RANK_ZERO)
        elif option == b"COUNT":
            count = _non_negative(argv[i + 1], "ERR COUNT can't be negative")
        elif option == b"MAXLEN":
            maxlen = _non_negative(argv[i + 1], "ERR MAXLEN can't be negative")
        else:
            raise ReplyError(SYNTAX)
        i += 2
    items = session.db.lookup_read(argv[1], deque)
    if items is None:
        return [] if count != -1 else None
    from_tail = rank < 0
    if rank == INT64_MIN:
        # Redis negates LLONG_MIN in place (it stays negative): every match
        # then counts, and the COUNT test overflows so it never stops early.
        rank, limit = 1, 0
    else:
        rank = -rank if from_tail else rank
        limit = count
    element = argv[2]
    size = len(items)
    stop = size if maxlen == 0 or maxlen > size else maxlen
    found: list[int] = []
    matches = 0
    if from_tail:
        for offset, value in enumerate(islice(reversed(items), stop)):
            if value == element:
                matches += 1
                if matches >= rank:
                    if count == -1:
                        return size - offset - 1
                    found.append(size - offset - 1)
                    if limit and matches - rank + 1 >= limit:
                        break
    else:
        position = -1
        index = items.index
        while True:
            try:
                position = index(element, position + 1, stop)
            except ValueError:
                break
            matches += 1
            if matches >= rank:
                if count == -1:
                    return position
                found.append(position)
                if limit and matches - rank + 1 >= limit:
                    break
    return found if count != -1 else None


# -- in-place changes -------------------------------------------------------------


@define("lset", 4, "write denyoom", 1, 1, 1, group="list")
def lset(session: Session, argv: list[bytes]) -> Any:
    """LSET key index element"""
    db = session.db
    items = db.lookup_write(argv[1], deque)
    if items is None:
        raise ReplyError(NO_SUCH_KEY)
    index = to_int(argv[2])
    size = len(items)
    if not -size <= index < size:
        raise ReplyError(OUT_OF_RANGE)
    items[index] = argv[3]
    db.modified(argv[1])
    db.notify("l", b"lset", argv[1])
    return OK


@define("linsert", 5, "write denyoom", 1, 1, 1, group="list", since="2.2.0")
def linsert(session: Session, argv: list[bytes]) -> Any:
    """LINSERT key BEFORE|AFTER pivot element"""
    where = argv[2].upper()
    if where == b"BEFORE":
        after = 0
    elif where == b"AFTER":
        after = 1
    else:
        raise ReplyError(SYNTAX)
    db = session.db
    items = db.lookup_write(argv[1], deque)
    if items is None:
        return 0
    try:
        position = items.index(argv[3])
    except ValueError:
        return -1
    items.insert(position + after, argv[4])
    db.modified(argv[1])
    db.notify("l", b"linsert", argv[1])
    return len(items)


@define("lrem", 4, "write", 1, 1, 1, group="list")
def lrem(session: Session, argv: list[bytes]) -> Any:
    """LREM key count element"""
    count = to_int(argv[2])
    db = session.db
    key = argv[1]
    items = db.lookup_write(key, deque)
    if items is None:
        return 0
    element = argv[3]
    present = items.count(element)
    if not present:
        return 0
    wanted = abs(count)
    if count == 0 or wanted >= present:
        kept = [value for value in items if value != element]
        items.clear()
        items.extend(kept)
        removed = present
    elif wanted <= 16:
        # A few removals: deque.remove scans in C from the chosen end.
        if count < 0:
            items.reverse()
        for _ in range(wanted):
            items.remove(element)
        if count < 0:
            items.reverse()
        removed = wanted
    else:
        source = reversed(items) if count < 0 else iter(items)
        kept = []
        left = wanted
        for value in source:
            if left and value == element:
                left -= 1
            else:
                kept.append(value)
        if count < 0:
            kept.reverse()
        items.clear()
        items.extend(kept)
        removed = wanted
    db.modified(key)
    db.notify("l", b"lrem", key)
    if not items:
        db.remove_if_empty(key, items)
    return removed


@define("ltrim", 4, "write", 1, 1, 1, group="list")
def ltrim(session: Session, argv: list[bytes]) -> Any:
    """LTRIM key start stop"""
    start = to_int(argv[2])
    end = to_int(argv[3])
    db = session.db
    key = argv[1]
    items = db.lookup_write(key, deque)
    if items is None:
        return OK
    size = len(items)
    if start < 0:
        start += size
        if start < 0:
            start = 0
    if end < 0:
        end += size
    if start > end or start >= size:
        items.clear()
    else:
        if end >= size:
            end = size - 1
        head, tail = start, size - end - 1
        if (head + tail) * 8 <= size:
            for _ in range(head):
                items.popleft()
            for _ in range(tail):
                items.pop()
        else:
            kept = list(islice(items, start, end + 1))
            items.clear()
            items.extend(kept)
    db.modified(key)
    db.notify("l", b"ltrim", key)
    if not items:
        db.remove_if_empty(key, items)
    return OK


# -- moves and multi-key pops ----------------------------------------------------


@define("lmove", 5, "write denyoom", 1, 2, 1, group="list", since="6.2.0")
def lmove(session: Session, argv: list[bytes]) -> Any:
    """LMOVE source destination LEFT|RIGHT LEFT|RIGHT"""
    from_left = _is_left(argv[3])
    to_left = _is_left(argv[4])
    return _move(session.db, argv[1], argv[2], from_left, to_left)


@define("rpoplpush", 3, "write denyoom", 1, 2, 1, group="list", since="1.2.0")
def rpoplpush(session: Session, argv: list[bytes]) -> Any:
    """RPOPLPUSH source destination"""
    return _move(session.db, argv[1], argv[2], False, True)


@define("lmpop", -4, "write movablekeys", keys=numkeys_finder(1), group="list", since="7.0.0")
def lmpop(session: Session, argv: list[bytes]) -> Any:
    """LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]"""
    keys, left, count = _parse_mpop(argv, 1)
    db = session.db
    for key in keys:
        items = db.lookup_write(key, deque)
        if items is None:
            continue
        return [key, _pop_many(db, key, items, left, count)]
    return NULL_ARRAY


# -- blocking ---------------------------------------------------------------------


def _blocking_pop(session: Session, argv: list[bytes], keys: list[bytes], left: bool, count: int, timeout: float) -> Any:
    """Serve BLPOP/BRPOP (``count`` 0) or BLMPOP from the first non-empty list, or block."""
    retry = bool(_waiting) and _waiting.pop(session, None) is argv
    db = session.db
    for key in keys:
        items = db.lookup_write(key)
        if items is None:
            continue
        if type(items) is not deque:
            if retry:  # Redis 7.0 keeps waiting on a key that is no longer a list
                continue
            raise ReplyError(WRONGTYPE)
        if count:
            return [key, _pop_many(db, key, items, left, count)]
        value = items.popleft() if left else items.pop()
        db.modified(key)
        db.notify("l", b"lpop" if left else b"rpop", key)
        if not items:
            db.remove_if_empty(key, items)
        return [key, value]
    return _block(session, argv, keys, timeout, NULL_ARRAY)


def _blocking_move(session: Session, argv: list[bytes], from_left: bool, to_left: bool, timeout: float) -> Any:
    """Serve BLMOVE/BRPOPLPUSH when the source has data, or block."""
    retry = bool(_waiting) and _waiting.pop(session, None) is argv
    db = session.db
    source = argv[1]
    items = db.lookup_write(source)
    if items is None or (retry and type(items) is not deque):
        # In MULTI Redis answers a null bulk here, but a null array on a real timeout.
        return _block(session, argv, [source], timeout, None)
    return _move(db, source, argv[2], from_left, to_left)


@define("blpop", -3, "write noscript blocking", 1, -2, 1, group="list", since="2.0.0")
def blpop(session: Session, argv: list[bytes]) -> Any:
    """BLPOP key [key ...] timeout"""
    timeout = parse_timeout(argv[-1])
    return _blocking_pop(session, argv, argv[1:-1], True, 0, timeout)


@define("brpop", -3, "write noscript blocking", 1, -2, 1, group="list", since="2.0.0")
def brpop(session: Session, argv: list[bytes]) -> Any:
    """BRPOP key [key ...] timeout"""
    timeout = parse_timeout(argv[-1])
    return _blocking_pop(session, argv, argv[1:-1], False, 0, timeout)


@define("blmpop", -5, "write blocking movablekeys", keys=numkeys_finder(2), group="list", since="7.0.0")
def blmpop(session: Session, argv: list[bytes]) -> Any:
    """BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]"""
    keys, left, count = _parse_mpop(argv, 2)
    timeout = parse_timeout(argv[1])
    return _blocking_pop(session, argv, keys, left, count, timeout)


@define("blmove", 6, "write denyoom noscript blocking", 1, 2, 1, group="list", since="6.2.0")
def blmove(session: Session, argv: list[bytes]) -> Any:
    """BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout"""
    from_left = _is_left(argv[3])
    to_left = _is_left(argv[4])
    timeout = parse_timeout(argv[5])
    return _blocking_move(session, argv, from_left, to_left, timeout)


@define("brpoplpush", 4, "write denyoom noscript blocking", 1, 2, 1, group="list", since="2.2.0")
def brpoplpush(session: Session, argv: list[bytes]) -> Any:
    """BRPOPLPUSH source destination timeout"""
    timeout = parse_timeout(argv[3])
    return _blocking_move(session, argv, False, True, timeout)

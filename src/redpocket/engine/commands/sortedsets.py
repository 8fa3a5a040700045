"""Sorted set commands: ZADD ZRANGE ZPOPMIN ZUNIONSTORE ... (Redis's t_zset.c).

The handlers parse ``argv`` and call the :class:`~redpocket.engine.types.zset.ZSet`
API.  Scores are parsed the way Redis parses them, which is not quite
``float()``: a score argument (ZADD, ZINCRBY, WEIGHTS) follows
``getDoubleFromObject`` (``strtod``: hex allowed, no leading space, no
overflow to ``inf`` or underflow to ``0``), a range bound (ZRANGEBYSCORE,
ZCOUNT ...) follows ``zslParseRange`` (bare ``strtod``: leading spaces,
overflow and an empty string are all accepted).

Reply shapes follow Redis 7.0 in both protocols: scores are doubles
(``%.17g`` bulk strings under RESP2), WITHSCORES gives ``[member, score]``
pairs under RESP3, ZPOPMIN without a count gives one flat pair.
"""

from __future__ import annotations

import heapq
import math
import random
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

from ..args import INT64_MAX, PLAIN_DECIMAL, strtod, to_float, to_int
from ..blocking import Block
from ..registry import define, numkeys_finder
from ..replies import (
    NOT_INTEGER,
    NOT_POSITIVE,
    NULL_ARRAY,
    SYNTAX,
    WRONGTYPE,
    ReplyError,
    double_reply,
    format_double,
    scored_reply,
)
from ..types.scan import glob_matcher, key_hash, parse_cursor
from ..types.zset import LEX_MAX, LEX_MIN, LexBound, ZSet, set_score, settle_encoding

if TYPE_CHECKING:
    from ..session import Session

GROUP: Final = "sorted-set"

NOT_VALID_FLOAT: Final = "ERR value is not a valid float"
_INFINITIES: Final = {b"inf": math.inf, b"+inf": math.inf, b"-inf": -math.inf}
_LONG_DOUBLE_MAX: Final = Decimal("1.18973149535723176502e4932")
_LONG_DOUBLE_MIN: Final = Decimal("3.64519953188247460253e-4951")
_HALF_LONG_MAX: Final = INT64_MAX // 2
NAN_SCORE: Final = "ERR resulting score is not a number (NaN)"
NOT_FLOAT_RANGE: Final = "ERR min or max is not a float"
NOT_LEX_RANGE: Final = "ERR min or max not valid string range item"
TIMEOUT_NOT_FLOAT: Final = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE: Final = "ERR timeout is negative"

# C's strtod, anchored: the whole (NUL-truncated) text must be one number.



def _parse_bound(value: bytes) -> tuple[float, bool]:
    """Parse one end of a score range (``zslParseRange``): ``(score, exclusive)``."""
    exclusive = value[:1] == b"("
    text = value[1:] if exclusive else value
    if PLAIN_DECIMAL(text) is not None:
        return float(text), exclusive
    known = _INFINITIES.get(text)
    if known is not None:
        return known, exclusive
    if b"\0" in text:
        text = text.split(b"\0", 1)[0]
    parsed = strtod(text) if text else (0.0, False)
    if parsed is None or math.isnan(parsed[0]):
        raise ReplyError(NOT_FLOAT_RANGE)
    return parsed[0], exclusive


def parse_score_range(low: bytes, high: bytes) -> tuple[float, bool, float, bool]:
    """Parse a ``min max`` score range: ``(min, min_exclusive, max, max_exclusive)``."""
    low_value, low_exclusive = _parse_bound(low)
    high_value, high_exclusive = _parse_bound(high)
    return low_value, low_exclusive, high_value, high_exclusive


def _parse_lex_item(value: bytes) -> tuple[LexBound, bool]:
    first = value[:1]
    if first == b"[":
        return value[1:], False
    if first == b"(":
        return value[1:], True
    if value == b"-":
        return LEX_MIN, True
    if value == b"+":
        return LEX_MAX, True
    raise ReplyError(NOT_LEX_RANGE)


def parse_lex_range(low: bytes, high: bytes) -> tuple[LexBound, bool, LexBound, bool]:
    """Parse a ``min max`` lexicographic range (``[a``, ``(a``, ``-``, ``+``)."""
    low_value, low_exclusive = _parse_lex_item(low)
    high_value, high_exclusive = _parse_lex_item(high)
    return low_value, low_exclusive, high_value, high_exclusive


def parse_timeout(value: bytes) -> float:
    """Parse a blocking timeout in seconds as Redis does; return seconds (``0``: wait forever)."""
    if not value or value[0] in b" \t\n\v\f\r" or b"\0" in value:
        raise ReplyError(TIMEOUT_NOT_FLOAT)
    parsed = strtod(value)
    if parsed is None or math.isnan(parsed[0]):
        raise ReplyError(TIMEOUT_NOT_FLOAT)
    seconds, out_of_range = parsed
    if out_of_range:
        # Redis reads a long double, whose range is far wider than a double's.
        magnitude = _decimal_magnitude(value)
        if seconds == 0:
            if magnitude is not None and 0 < magnitude < _LONG_DOUBLE_MIN:
                raise ReplyError(TIMEOUT_NOT_FLOAT)
            return 0.0
        if magnitude is not None and magnitude > _LONG_DOUBLE_MAX:
            raise ReplyError(TIMEOUT_NOT_FLOAT)
        raise ReplyError(TIMEOUT_NEGATIVE)
    milliseconds = seconds * 1000.0
    # (long long) of an out-of-range value is INT64_MIN on x86: "negative".
    if not -9.223372036854775808e18 <= milliseconds < 9.223372036854775808e18:
        raise ReplyError(TIMEOUT_NEGATIVE)
    whole = int(milliseconds)
    if whole < 0:
        raise ReplyError(TIMEOUT_NEGATIVE)
    return whole / 1000.0


def _decimal_magnitude(value: bytes) -> Decimal | None:
    try:
        return abs(Decimal(value.decode()))
    except (InvalidOperation, UnicodeDecodeError):  # hex: too rare to model
        return None


def _positive_count(value: bytes) -> int:
    count = to_int(value, NOT_POSITIVE)
    if count < 0:
        raise ReplyError(NOT_POSITIVE)
    return count


def _pairs_reply(session: Session, pairs: list[tuple[bytes, float]], withscores: bool) -> list[Any]:
    if withscores:
        return scored_reply(session.protocol, pairs)
    return [member for member, _score in pairs]


def _store(session: Session, key: bytes, zset: ZSet, event: bytes) -> int:
    """Store a computed sorted set at ``key`` (deleting it when empty); return its size; announce ``event``."""
    db = session.db
    if not zset:
        if db.delete(key):
            db.notify("g", b"del", key)
        return 0
    settle_encoding(zset, session.engine.config)
    db.set(key, zset)
    db.notify("z", event, key)
    return len(zset)


# -- ZADD ZINCRBY ------------------------------------------------------------------


_NX, _XX, _GT, _LT, _CH, _INCR = 1, 2, 4, 8, 16, 32
_ZADD_OPTIONS: Final = {b"NX": _NX, b"XX": _XX, b"GT": _GT, b"LT": _LT, b"CH": _CH, b"INCR": _INCR}


@define("zadd", -4, "write denyoom fast", 1, 1, 1, group=GROUP, since="1.2.0")
def zadd(session: Session, argv: list[bytes]) -> Any:
    """ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"""
    if len(argv) == 4 and argv[2][:1].isdigit():  # one pair and no option: the common case
        return _zadd_one(session, argv[1], argv[2], argv[3])
    flags = 0
    index = 2
    argc = len(argv)
    # (A score starting with a digit ends the options at once: the common case, no upper()/lookup.)
    while index < argc and not argv[index][:1].isdigit():
        flag = _ZADD_OPTIONS.get(argv[index].upper())
        if flag is None:
            break
        flags |= flag
        index += 1
    elements = argc - index
    if elements % 2 or not elements:
        raise ReplyError(SYNTAX)
    if flags:
        if flags & _NX and flags & _XX:
            raise ReplyError("ERR XX and NX options at the same time are not compatible")
        if (flags & _NX and flags & (_GT | _LT)) or (flags & _GT and flags & _LT):
            raise ReplyError("ERR GT, LT, and/or NX options at the same time are not compatible")
        if flags & _INCR and elements > 2:
            raise ReplyError("ERR INCR option supports a single increment-element pair")
    return _zadd(session, argv, index, flags)


@define("zincrby", 4, "write denyoom fast", 1, 1, 1, group=GROUP, since="1.2.0")
def zincrby(session: Session, argv: list[bytes]) -> Any:
    """ZINCRBY key increment member"""
    return _zadd(session, argv, 2, _INCR)


def _zadd_one(session: Session, key: bytes, score_text: bytes, member: bytes) -> int:
    """ZADD key score member, without options: the general loop's work for one pair."""
    # (to_float's first fast path, inlined: plain digits read the same in float())
    score = float(score_text) if score_text.isdigit() and len(score_text) < 300 else to_float(score_text)
    db = session.db
    zset = db.lookup_write(key, ZSet)
    if zset is None:
        zset = ZSet()
        db.add(key, zset)
        set_score(zset, member, score, True, session.engine.config)
        db.notify("z", b"zadd", key)
        return 1
    old = zset.scores.get(member)
    if old is None:
        set_score(zset, member, score, True, session.engine.config)
    elif score != old:
        set_score(zset, member, score, False, session.engine.config)
    else:
        return 0
    db.modified(key)
    db.notify("z", b"zadd", key)
    return 1 if old is None else 0


def _zadd(session: Session, argv: list[bytes], index: int, flags: int) -> Any:
    """Run Redis's ``zaddGenericCommand`` on the score/member pairs from ``argv[index]`` on."""
    if len(argv) == index + 2:  # one pair, the common case: no slice and comprehension
        scores = [to_float(argv[index])]
    else:
        scores = [to_float(score) for score in argv[index::2]]
    db = session.db
    key = argv[1]
    zset = db.lookup_write(key, ZSet)
    created = zset is None
    if zset is None:
        if flags & _XX:
            return None if flags & _INCR else 0
        zset = ZSet()
        db.add(key, zset)
    added = updated = processed = 0
    score = 0.0
    current = zset.scores
    position = index + 1
    for score in scores:
        member = argv[position]
        position += 2
        old = current.get(member)
        if old is not None:
            if flags:  # no options: skip their checks
                if flags & _NX:
                    continue
                if flags & _INCR:
                    score += old
                    if score != score:
                        raise ReplyError(NAN_SCORE)
                if (flags & _LT and score >= old) or (flags & _GT and score <= old):
                    continue
            processed += 1
            if score != old:
                set_score(zset, member, score, False, session.engine.config)
                updated += 1
        elif flags & _XX:
            continue
        else:
            set_score(zset, member, score, True, session.engine.config)
            added += 1
            processed += 1
    if added or updated:
        if not created:
            db.modified(key)
        db.notify("z", b"zincr" if flags & _INCR else b"zadd", key)
    if flags & _INCR:
        return double_reply(session.protocol, score) if processed else None
    return added + updated if flags & _CH else added


# -- removal and lookups -------------------------------------------------------------


@define("zrem", -3, "write fast", 1, 1, 1, group=GROUP, since="1.2.0")
def zrem(session: Session, argv: list[bytes]) -> Any:
    """ZREM key member [member ...]"""
    db = session.db
    key = argv[1]
    zset = db.lookup_write(key, ZSet)
    if zset is None:
        return 0
    remove = zset.remove
    deleted = 0
    for member in argv[2:]:
        if remove(member):
            deleted += 1
            if not zset:
                break
    if deleted:
        db.modified(key)
        db.notify("z", b"zrem", key)
        db.remove_if_empty(key, zset)
    return deleted


@define("zscore", 3, "readonly fast", 1, 1, 1, group=GROUP, since="1.2.0")
def zscore(session: Session, argv: list[bytes]) -> Any:
    """ZSCORE key member"""
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None:
        return None
    score = zset.scores.get(argv[2])
    return None if score is None else double_reply(session.protocol, score)


@define("zmscore", -3, "readonly fast", 1, 1, 1, group=GROUP, since="6.2.0")
def zmscore(session: Session, argv: list[bytes]) -> Any:
    """ZMSCORE key member [member ...]"""
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None:
        return [None] * (len(argv) - 2)
    protocol = session.protocol
    get = zset.scores.get
    reply: list[Any] = []
    for member in argv[2:]:
        score = get(member)
        reply.append(None if score is None else double_reply(protocol, score))
    return reply


@define("zcard", 2, "readonly fast", 1, 1, 1, group=GROUP, since="1.2.0")
def zcard(session: Session, argv: list[bytes]) -> Any:
    """ZCARD key"""
    zset = session.db.lookup_read(argv[1], ZSet)
    return 0 if zset is None else len(zset)


@define("zcount", 4, "readonly fast", 1, 1, 1, group=GROUP, since="2.0.0")
def zcount(session: Session, argv: list[bytes]) -> Any:
    """ZCOUNT key min max"""
    low, low_ex, high, high_ex = parse_score_range(argv[2], argv[3])
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None:
        return 0
    return zset.count_by_score(low, high, low_ex, high_ex)


@define("zlexcount", 4, "readonly fast", 1, 1, 1, group=GROUP, since="2.8.9")
def zlexcount(session: Session, argv: list[bytes]) -> Any:
    """ZLEXCOUNT key min max"""
    low, low_ex, high, high_ex = parse_lex_range(argv[2], argv[3])
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None:
        return 0
    return zset.count_by_lex(low, high, low_ex, high_ex)


def _rank(session: Session, argv: list[bytes], reverse: bool) -> Any:
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None:
        return None
    return zset.rank(argv[2], reverse)


@define("zrank", 3, "readonly fast", 1, 1, 1, group=GROUP, since="2.0.0")
def zrank(session: Session, argv: list[bytes]) -> Any:
    """ZRANK key member"""
    return _rank(session, argv, False)


@define("zrevrank", 3, "readonly fast", 1, 1, 1, group=GROUP, since="2.0.0")
def zrevrank(session: Session, argv: list[bytes]) -> Any:
    """ZREVRANK key member"""
    return _rank(session, argv, True)


# -- ranges -------------------------------------------------------------------------

_RANK, _SCORE, _LEX = 1, 2, 3


def _zrange(session: Session, argv: list[bytes], start: int, store: bool, kind: int, reverse: bool | None) -> Any:
    """Run Redis's ``zrangeGenericCommand``: return the reply, or the result size when ``store``."""
    withscores = False
    offset = 0
    limit = -1
    argc = len(argv)
    j = start + 3
    while j < argc:
        option = argv[j].upper()
        left = argc - j - 1
        if not store and option == b"WITHSCORES":
            withscores = True
        elif option == b"LIMIT" and left >= 2:
            offset = to_int(argv[j + 1])
            limit = to_int(argv[j + 2])
            j += 2
        elif reverse is None and option == b"REV":
            reverse = True
        elif kind == 0 and option == b"BYLEX":
            kind = _LEX
        elif kind == 0 and option == b"BYSCORE":
            kind = _SCORE
        else:
            raise ReplyError(SYNTAX)
        j += 1
    reverse = bool(reverse)
    kind = kind or _RANK
    if limit != -1 and kind == _RANK:
        raise ReplyError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and kind == _LEX:
        raise ReplyError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    low_arg, high_arg = argv[start + 1], argv[start + 2]
    if reverse and kind != _RANK:
        low_arg, high_arg = high_arg, low_arg
    if kind == _RANK:
        first = to_int(low_arg)
        last = to_int(high_arg)
    elif kind == _SCORE:
        low, low_ex, high, high_ex = parse_score_range(low_arg, high_arg)
    else:
        low_lex, low_ex, high_lex, high_ex = parse_lex_range(low_arg, high_arg)
    zset = session.db.lookup_read(argv[start], ZSet)
    if zset is None:
        if store:
            return _store(session, argv[1], ZSet(), b"zrangestore")
        return []
    if kind == _RANK:
        size = len(zset)
        if first < 0:
            first += size
        if last < 0:
            last += size
        if first < 0:
            first = 0
        if first > last or first >= size:
            pairs = []
        else:
            if last >= size:
                last = size - 1
            pairs = zset.range_by_rank(first, last, reverse)
    elif offset < 0 or (offset > 0 and offset >= len(zset)):
        pairs = []
    elif kind == _SCORE:
        pairs = zset.range_by_score(low, high, low_ex, high_ex, reverse, offset, limit)
    else:
        pairs = zset.range_by_lex(low_lex, high_lex, low_ex, high_ex, reverse, offset, limit)
    if store:
        return _store(session, argv[1], ZSet(pairs), b"zrangestore")
    return _pairs_reply(session, pairs, withscores)


@define("zrange", -4, "readonly", 1, 1, 1, group=GROUP, since="1.2.0")
def zrange(session: Session, argv: list[bytes]) -> Any:
    """ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"""
    return _zrange(session, argv, 1, False, 0, None)


@define("zrangestore", -5, "write denyoom", 1, 2, 1, group=GROUP, since="6.2.0")
def zrangestore(session: Session, argv: list[bytes]) -> Any:
    """ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]"""
    return _zrange(session, argv, 2, True, 0, None)


@define("zrevrange", -4, "readonly", 1, 1, 1, group=GROUP, since="1.2.0")
def zrevrange(session: Session, argv: list[bytes]) -> Any:
    """ZREVRANGE key start stop [WITHSCORES]"""
    return _zrange(session, argv, 1, False, _RANK, True)


@define("zrangebyscore", -4, "readonly", 1, 1, 1, group=GROUP, since="1.0.5")
def zrangebyscore(session: Session, argv: list[bytes]) -> Any:
    """ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]"""
    return _zrange(session, argv, 1, False, _SCORE, False)


@define("zrevrangebyscore", -4, "readonly", 1, 1, 1, group=GROUP, since="2.2.0")
def zrevrangebyscore(session: Session, argv: list[bytes]) -> Any:
    """ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]"""
    return _zrange(session, argv, 1, False, _SCORE, True)


@define("zrangebylex", -4, "readonly", 1, 1, 1, group=GROUP, since="2.8.9")
def zrangebylex(session: Session, argv: list[bytes]) -> Any:
    """ZRANGEBYLEX key min max [LIMIT offset count]"""
    return _zrange(session, argv, 1, False, _LEX, False)


@define("zrevrangebylex", -4, "readonly", 1, 1, 1, group=GROUP, since="2.8.9")
def zrevrangebylex(session: Session, argv: list[bytes]) -> Any:
    """ZREVRANGEBYLEX key max min [LIMIT offset count]"""
    return _zrange(session, argv, 1, False, _LEX, True)


# -- range removal ---------------------------------------------------------------


def _remove_range(session: Session, argv: list[bytes], kind: int) -> Any:
    if kind == _RANK:
        first = to_int(argv[2])
        last = to_int(argv[3])
    elif kind == _SCORE:
        low, low_ex, high, high_ex = parse_score_range(argv[2], argv[3])
    else:
        low_lex, low_ex, high_lex, high_ex = parse_lex_range(argv[2], argv[3])
    db = session.db
    key = argv[1]
    zset = db.lookup_write(key, ZSet)
    if zset is None:
        return 0
    if kind == _RANK:
        size = len(zset)
        if first < 0:
            first += size
        if last < 0:
            last += size
        if first < 0:
            first = 0
        if first > last or first >= size:
            return 0
        if last >= size:
            last = size - 1
        deleted = zset.remove_range_by_rank(first, last)
    elif kind == _SCORE:
        deleted = zset.remove_range_by_score(low, high, low_ex, high_ex)
    else:
        deleted = zset.remove_range_by_lex(low_lex, high_lex, low_ex, high_ex)
    if deleted:
        db.modified(key)
        db.notify("z", _REMOVE_EVENTS[kind], key)
        db.remove_if_empty(key, zset)
    return deleted


_REMOVE_EVENTS: Final = {_RANK: b"zremrangebyrank", _SCORE: b"zremrangebyscore", _LEX: b"zremrangebylex"}


@define("zremrangebyrank", 4, "write", 1, 1, 1, group=GROUP, since="2.0.0")
def zremrangebyrank(session: Session, argv: list[bytes]) -> Any:
    """ZREMRANGEBYRANK key start stop"""
    return _remove_range(session, argv, _RANK)


@define("zremrangebyscore", 4, "write", 1, 1, 1, group=GROUP, since="1.2.0")
def zremrangebyscore(session: Session, argv: list[bytes]) -> Any:
    """ZREMRANGEBYSCORE key min max"""
    return _remove_range(session, argv, _SCORE)


@define("zremrangebylex", 4, "write", 1, 1, 1, group=GROUP, since="2.8.9")
def zremrangebylex(session: Session, argv: list[bytes]) -> Any:
    """ZREMRANGEBYLEX key min max"""
    return _remove_range(session, argv, _LEX)


# -- pops ---------------------------------------------------------------------------


def _pop_from(session: Session, key: bytes, zset: ZSet, count: int, highest: bool) -> list[tuple[bytes, float]]:
    pairs = zset.pop(count, highest)
    db = session.db
    db.modified(key)
    db.notify("z", b"zpopmax" if highest else b"zpopmin", key)
    db.remove_if_empty(key, zset)
    return pairs


def _zpop(session: Session, argv: list[bytes], highest: bool) -> Any:
    if len(argv) > 3:
        raise ReplyError(SYNTAX)
    count = _positive_count(argv[2]) if len(argv) == 3 else -1
    key = argv[1]
    zset = session.db.lookup_write(key, ZSet)
    if zset is None or count == 0:
        return []
    pairs = _pop_from(session, key, zset, 1 if count == -1 else count, highest)
    protocol = session.protocol
    if protocol == 3 and count != -1:
        return scored_reply(protocol, pairs)
    member, score = pairs[0]
    if count == -1:
        return [member, double_reply(protocol, score)]
    return scored_reply(2, pairs)


@define("zpopmin", -2, "write fast", 1, 1, 1, group=GROUP, since="5.0.0")
def zpopmin(session: Session, argv: list[bytes]) -> Any:
    """ZPOPMIN key [count]"""
    return _zpop(session, argv, False)


@define("zpopmax", -2, "write fast", 1, 1, 1, group=GROUP, since="5.0.0")
def zpopmax(session: Session, argv: list[bytes]) -> Any:
    """ZPOPMAX key [count]"""
    return _zpop(session, argv, True)


def _blocked_source(session: Session, key: bytes) -> ZSet | None:
    """Return the sorted set a blocking pop may serve from ``key`` (``None`` when there is none).

    A client re-run after a write (``session.blocked`` set) skips a key that is
    no longer a sorted set and keeps waiting, as Redis 7.0 serves blocked
    clients only from a key of their type; a first run answers WRONGTYPE.
    """
    value = session.db.lookup_write(key)
    if value is None or type(value) is ZSet:
        return value
    if session.blocked is not None:
        return None
    raise ReplyError(WRONGTYPE)


def _bzpop(session: Session, argv: list[bytes], highest: bool) -> Any:
    timeout = parse_timeout(argv[-1])
    keys = argv[1:-1]
    for key in keys:
        zset = _blocked_source(session, key)
        if zset is None:
            continue
        member, score = _pop_from(session, key, zset, 1, highest)[0]
        return [key, member, double_reply(session.protocol, score)]
    if not session.may_block:
        return NULL_ARRAY
    return Block(keys, timeout, NULL_ARRAY)


@define("bzpopmin", -3, "write noscript blocking fast", 1, -2, 1, group=GROUP, since="5.0.0")
def bzpopmin(session: Session, argv: list[bytes]) -> Any:
    """BZPOPMIN key [key ...] timeout"""
    return _bzpop(session, argv, False)


@define("bzpopmax", -3, "write noscript blocking fast", 1, -2, 1, group=GROUP, since="5.0.0")
def bzpopmax(session: Session, argv: list[bytes]) -> Any:
    """BZPOPMAX key [key ...] timeout"""
    return _bzpop(session, argv, True)


def _zmpop(session: Session, argv: list[bytes], numkeys_index: int, blocking: bool) -> Any:
    numkeys = to_int(argv[numkeys_index], "ERR numkeys should be greater than 0")
    if numkeys < 1:
        raise ReplyError("ERR numkeys should be greater than 0")
    where_index = numkeys_index + numkeys + 1
    argc = len(argv)
    if where_index >= argc:
        raise ReplyError(SYNTAX)
    where = argv[where_index].upper()
    if where == b"MIN":
        highest = False
    elif where == b"MAX":
        highest = True
    else:
        raise ReplyError(SYNTAX)
    count = -1
    j = where_index + 1
    while j < argc:
        if count == -1 and argv[j].upper() == b"COUNT" and j + 1 < argc:
            j += 1
            count = to_int(argv[j], "ERR count should be greater than 0")
            if count < 1:
                raise ReplyError("ERR count should be greater than 0")
        else:
            raise ReplyError(SYNTAX)
        j += 1
    if count == -1:
        count = 1
    if blocking:
        timeout = parse_timeout(argv[1])
    keys = argv[numkeys_index + 1 : where_index]
    for key in keys:
        zset = _blocked_source(session, key) if blocking else session.db.lookup_write(key, ZSet)
        if zset is None:
            continue
        pairs = _pop_from(session, key, zset, count, highest)
        protocol = session.protocol
        return [key, [[member, double_reply(protocol, score)] for member, score in pairs]]
    if blocking and session.may_block:
        return Block(keys, timeout, NULL_ARRAY)
    return NULL_ARRAY


@define("zmpop", -4, "write", keys=numkeys_finder(1), group=GROUP, since="7.0.0")
def zmpop(session: Session, argv: list[bytes]) -> Any:
    """ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]"""
    return _zmpop(session, argv, 1, False)


@define("bzmpop", -5, "write blocking", keys=numkeys_finder(2), group=GROUP, since="7.0.0")
def bzmpop(session: Session, argv: list[bytes]) -> Any:
    """BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]"""
    return _zmpop(session, argv, 2, True)


# -- set operations --------------------------------------------------------------------

_UNION, _INTER, _DIFF = 1, 2, 3
_STORE_EVENTS: Final = {_UNION: b"zunionstore", _INTER: b"zinterstore", _DIFF: b"zdiffstore"}
_SUM, _MIN, _MAX = 1, 2, 3


def _source_items(source: Any) -> Any:
    """Iterate ``(member, score)`` over a sorted set or a set (score 1)."""
    if type(source) is ZSet:
        return iter(source)
    return ((member, 1.0) for member in source)


def _source_score(source: Any, member: bytes) -> float | None:
    if type(source) is ZSet:
        return source.scores.get(member)  # type: ignore[no-any-return]
    return 1.0 if member in source else None


def _aggregate(target: float, value: float, aggregate: int) -> float:
    if aggregate == _SUM:
        target += value
        return 0.0 if target != target else target
    if aggregate == _MIN:
        return value if value < target else target
    return value if value > target else target


def _combine(session: Session, argv: list[bytes], numkeys_index: int, op: int, dest: bool, cardinality: bool = False) -> Any:
    """Run Redis's ``zunionInterDiffGenericCommand``."""
    setnum = to_int(argv[numkeys_index])
    if setnum < 1:
        name = argv[0].lower().decode("utf-8", "replace")
        raise ReplyError(f"ERR at least 1 input key is needed for '{name}' command")
    argc = len(argv)
    first = numkeys_index + 1
    if setnum > argc - first:
        raise ReplyError(SYNTAX)
    db = session.db
    sources: list[Any] = []
    for key in argv[first : first + setnum]:
        value = db.lookup_read(key)
        if value is not None and type(value) is not ZSet and type(value) is not set:
            raise ReplyError(WRONGTYPE)
        sources.append(value)
    weights = [1.0] * setnum
    aggregate = _SUM
    withscores = False
    limit = 0
    j = first + setnum
    while j < argc:
        remaining = argc - j
        option = argv[j].upper()
        if op != _DIFF and not cardinality and remaining >= setnum + 1 and option == b"WEIGHTS":
            for i in range(setnum):
                weights[i] = to_float(argv[j + 1 + i], "ERR weight value is not a float")
            j += setnum + 1
        elif op != _DIFF and not cardinality and remaining >= 2 and option == b"AGGREGATE":
            function = argv[j + 1].upper()
            if function == b"SUM":
                aggregate = _SUM
            elif function == b"MIN":
                aggregate = _MIN
            elif function == b"MAX":
                aggregate = _MAX
            else:
                raise ReplyError(SYNTAX)
            j += 2
        elif not dest and not cardinality and option == b"WITHSCORES":
            withscores = True
            j += 1
        elif cardinality and remaining >= 2 and option == b"LIMIT":
            limit = to_int(argv[j + 1], "ERR LIMIT can't be negative")
            if limit < 0:
                raise ReplyError("ERR LIMIT can't be negative")
            j += 2
        else:
            raise ReplyError(SYNTAX)
    inputs = list(zip(sources, weights, strict=True))
    if op != _DIFF:
        # Smallest first, as Redis sorts them (a stable sort: it decides the order of float sums).
        inputs.sort(key=lambda pair: 0 if pair[0] is None else len(pair[0]))
    result: dict[bytes, float] = {}
    if op == _INTER:
        count = 0
        smallest, weight = inputs[0]
        if smallest:
            others = inputs[1:]
            for member, score in _source_items(smallest):
                total = weight * score
                if total != total:
                    total = 0.0
                for source, other_weight in others:
                    value = _source_score(source, member)
                    if value is None:
                        break
                    total = _aggregate(total, value * other_weight, aggregate)
                else:
                    if cardinality:
                        count += 1
                        if limit and count >= limit:
                            break
                    else:
                        result[member] = total
        if cardinality:
            return count
    elif op == _UNION:
        for source, weight in inputs:
            if not source:
                continue
            for member, score in _source_items(source):
                value = weight * score
                if value != value:
                    value = 0.0
                old = result.get(member)
                result[member] = value if old is None else _aggregate(old, value, aggregate)
    else:
        base = inputs[0][0]
        if base:
            others = [source for source, _weight in inputs[1:] if source]
            for member, score in _source_items(base):
                for source in others:
                    if member in source:
                        break
                else:
                    result[member] = score
    if dest:
        return _store(session, argv[1], ZSet.from_scores(result), _STORE_EVENTS[op])
    pairs = sorted([(score, member) for member, score in result.items()])
    if withscores:
        return scored_reply(session.protocol, [(member, score) for score, member in pairs])
    return [member for _score, member in pairs]


def _store_keys(argv: list[bytes]) -> list[bytes]:
    return [argv[1], *numkeys_finder(2)(argv)]


@define("zunionstore", -4, "write denyoom", 1, 1, 1, keys=_store_keys, group=GROUP, since="2.0.0")
def zunionstore(session: Session, argv: list[bytes]) -> Any:
    """ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"""
    return _combine(session, argv, 2, _UNION, True)


@define("zinterstore", -4, "write denyoom", 1, 1, 1, keys=_store_keys, group=GROUP, since="2.0.0")
def zinterstore(session: Session, argv: list[bytes]) -> Any:
    """ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]"""
    return _combine(session, argv, 2, _INTER, True)


@define("zdiffstore", -4, "write denyoom", 1, 1, 1, keys=_store_keys, group=GROUP, since="6.2.0")
def zdiffstore(session: Session, argv: list[bytes]) -> Any:
    """ZDIFFSTORE destination numkeys key [key ...]"""
    return _combine(session, argv, 2, _DIFF, True)


@define("zunion", -3, "readonly", keys=numkeys_finder(1), group=GROUP, since="6.2.0")
def zunion(session: Session, argv: list[bytes]) -> Any:
    """ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"""
    return _combine(session, argv, 1, _UNION, False)


@define("zinter", -3, "readonly", keys=numkeys_finder(1), group=GROUP, since="6.2.0")
def zinter(session: Session, argv: list[bytes]) -> Any:
    """ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]"""
    return _combine(session, argv, 1, _INTER, False)


@define("zdiff", -3, "readonly", keys=numkeys_finder(1), group=GROUP, since="6.2.0")
def zdiff(session: Session, argv: list[bytes]) -> Any:
    """ZDIFF numkeys key [key ...] [WITHSCORES]"""
    return _combine(session, argv, 1, _DIFF, False)


@define("zintercard", -3, "readonly", keys=numkeys_finder(1), group=GROUP, since="7.0.0")
def zintercard(session: Session, argv: list[bytes]) -> Any:
    """ZINTERCARD numkeys key [key ...] [LIMIT limit]"""
    return _combine(session, argv, 1, _INTER, False, cardinality=True)


# -- random members and scanning --------------------------------------------------------


@define("zrandmember", -2, "readonly", 1, 1, 1, group=GROUP, since="6.2.0")
def zrandmember(session: Session, argv: list[bytes]) -> Any:
    """ZRANDMEMBER key [count [WITHSCORES]]"""
    argc = len(argv)
    if argc == 2:
        zset = session.db.lookup_read(argv[1], ZSet)
        if zset is None:
            return None
        return zset.at(random.randrange(len(zset)))[0]
    count = to_int(argv[2])
    if count == -INT64_MAX - 1:
        raise ReplyError(f"ERR value is out of range, value must between {-INT64_MAX} and {INT64_MAX}")
    withscores = False
    if argc > 4 or (argc == 4 and argv[3].upper() != b"WITHSCORES"):
        raise ReplyError(SYNTAX)
    if argc == 4:
        withscores = True
        if count < -_HALF_LONG_MAX or count > _HALF_LONG_MAX:
            raise ReplyError("ERR value is out of range")
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None or count == 0:
        return []
    size = len(zset)
    at = zset.at
    if count < 0 or count == 1:
        pairs = [at(random.randrange(size)) for _ in range(abs(count))]
    elif count >= size:
        pairs = zset.range_by_rank(0, size - 1, True)
    else:
        pairs = [at(index) for index in random.sample(range(size), count)]
    return _pairs_reply(session, pairs, withscores)


@define("zscan", -3, "readonly", 1, 1, 1, group=GROUP, since="2.8.0")
def zscan(session: Session, argv: list[bytes]) -> Any:
    """ZSCAN key cursor [MATCH pattern] [COUNT count]"""
    cursor = parse_cursor(argv[2])
    zset = session.db.lookup_read(argv[1], ZSet)
    if zset is None:
        return [b"0", []]
    count = 10
    match = None
    argc = len(argv)
    j = 3
    while j < argc:
        option = argv[j].upper()
        if option == b"COUNT" and argc - j >= 2:
            count = to_int(argv[j + 1], NOT_INTEGER)
            if count < 1:
                raise ReplyError(SYNTAX)
        elif option == b"MATCH" and argc - j >= 2:
            pattern = argv[j + 1]
            match = None if pattern == b"*" else glob_matcher(pattern)
        else:
            raise ReplyError(SYNTAX)
        j += 2
    if zset.skiplist:
        pairs, cursor = _scan_page(zset, cursor, count)
    else:
        # A listpack is returned whole in one call, as Redis does.
        pairs, cursor = list(zset), 0
    flat: list[bytes] = []
    for member, score in pairs:
        if match is None or match(member):
            flat.append(member)
            flat.append(format_double(score))
    return [b"%d" % cursor, flat]


def _scan_page(zset: ZSet, cursor: int, count: int) -> tuple[list[tuple[bytes, float]], int]:
    """Return about ``count`` members whose hash is at least ``cursor``, and the next cursor.

    Members are visited in the order of their (process-stable) hash, so every
    member present during a whole iteration is returned at least once.
    """
    candidates = []
    for member in zset.scores:
        position = key_hash(member)
        if position >= cursor:
            candidates.append((position, member))
    if len(candidates) <= count:
        page = candidates
        next_cursor = 0
    else:
        page = heapq.nsmallest(count, candidates)
        last = page[-1][0]
        # Never split members sharing a hash across two calls.
        page = [candidate for candidate in candidates if candidate[0] <= last]
        next_cursor = 0 if len(page) == len(candidates) else last + 1
    scores = zset.scores
    return [(member, scores[member]) for _position, member in page], next_cursor

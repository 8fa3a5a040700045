"""Hash commands: HSET HGET HMGET HDEL HINCRBY HINCRBYFLOAT HSCAN HRANDFIELD and the rest.

A hash is a ``dict`` of ``bytes`` fields to ``bytes`` values.  Its
insertion order is the order of Redis 7.0's listpack encoding (an update
keeps a field's place, a deleted and re-added field goes to the end), so
small hashes reply in exactly Redis's order; large hashes, which Redis
keeps in a hash table, come out in an order nobody can rely on.
"""

from __future__ import annotations

import random
from itertools import chain
from typing import TYPE_CHECKING, Any

from ..args import INT64_MAX, INT64_MIN, to_int
from ..longdouble import format_long_double_human, incr_by_float, is_finite, parse_long_double
from ..registry import define
from ..replies import NAN_OR_INFINITY, NOT_FLOAT, OK, OVERFLOW, SYNTAX, ReplyError
from ..types.hash import keep_hashtable, random_field
from ..types.hash_scan import parse_cursor, parse_scan_options

if TYPE_CHECKING:
    from ..session import Session

NOT_HASH_INTEGER = "ERR hash value is not an integer"
NOT_HASH_FLOAT = "ERR hash value is not a float"
# getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) as HRANDFIELD/SRANDMEMBER use it.
COUNT_RANGE = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
_HALF_LONG_MAX = INT64_MAX // 2


@define("hset", -4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hset(session: Session, argv: list[bytes]) -> Any:
    """HSET key field value [field value ...]"""
    if len(argv) & 1:
        raise ReplyError("ERR wrong number of arguments for 'hset' command")
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, dict)
    if value is None:
        value = {}
        db.add(key, value)
    else:
        db.modified(key)
    db.notify("h", b"hset", key)
    if len(argv) == 4:  # one pair, the common case: no slicing and zipping
        field = argv[2]
        old = value.get(field)
        value[field] = argv[3]
        if old is None:
            return 1
        if len(old) > len(argv[3]):  # a shorter value replaces a possibly long one
            keep_hashtable(db, key, value, (old,))
        return 0
    # Redis converts to a hashtable up front when any argument is too long for a listpack.
    keep_hashtable(db, key, value, argv[2:])
    before = len(value)
    value.update(zip(argv[2::2], argv[3::2], strict=True))
    return len(value) - before


@define("hmset", -4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hmset(session: Session, argv: list[bytes]) -> Any:
    """HMSET key field value [field value ...]"""
    if len(argv) & 1:
        raise ReplyError("ERR wrong number of arguments for 'hmset' command")
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, dict)
    if value is None:
        value = {}
        db.add(key, value)
    else:
        db.modified(key)
    db.notify("h", b"hset", key)
    keep_hashtable(db, key, value, argv[2:])  # (Redis converts up front, as for HSET)
    value.update(zip(argv[2::2], argv[3::2], strict=True))
    return OK


@define("hsetnx", 4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hsetnx(session: Session, argv: list[bytes]) -> Any:
    """HSETNX key field value"""
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, dict)
    if value is None:
        db.add(key, {argv[2]: argv[3]})
    elif argv[2] in value:
        return 0
    else:
        value[argv[2]] = argv[3]
        db.modified(key)
    db.notify("h", b"hset", key)
    return 1


@define("hget", 3, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hget(session: Session, argv: list[bytes]) -> Any:
    """HGET key field"""
    value = session.db.lookup_read(argv[1], dict)
    if value is None:
        return None
    return value.get(argv[2])


@define("hmget", -3, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hmget(session: Session, argv: list[bytes]) -> Any:
    """HMGET key field [field ...]"""
    value = session.db.lookup_read(argv[1], dict)
    if value is None:
        return [None] * (len(argv) - 2)
    get = value.get
    return [get(field) for field in argv[2:]]


@define("hgetall", 2, "readonly", 1, 1, 1, group="hash", since="2.0.0")
def hgetall(session: Session, argv: list[bytes]) -> Any:
    """HGETALL key"""
    value = session.db.lookup_read(argv[1], dict)
    if session.protocol == 3:
        return {} if value is None else dict(value)
    if value is None:
        return []
    return list(chain.from_iterable(value.items()))


@define("hdel", -3, "write fast", 1, 1, 1, group="hash", since="2.0.0")
def hdel(session: Session, argv: list[bytes]) -> Any:
    """HDEL key field [field ...]"""
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, dict)
    if value is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        old = value.get(field)
        if old is not None:
            keep_hashtable(db, key, value, (field, old))
            del value[field]
            deleted += 1
    if deleted:
        db.modified(key)
        db.notify("h", b"hdel", key)
        db.remove_if_empty(key, value)
    return deleted


@define("hexists", 3, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hexists(session: Session, argv: list[bytes]) -> Any:
    """HEXISTS key field"""
    value = session.db.lookup_read(argv[1], dict)
    return 1 if value is not None and argv[2] in value else 0


@define("hlen", 2, "readonly fast", 1, 1, 1, group="hash", since="2.0.0")
def hlen(session: Session, argv: list[bytes]) -> Any:
    """HLEN key"""
    value = session.db.lookup_read(argv[1], dict)
    return 0 if value is None else len(value)


@define("hstrlen", 3, "readonly fast", 1, 1, 1, group="hash", since="3.2.0")
def hstrlen(session: Session, argv: list[bytes]) -> Any:
    """HSTRLEN key field"""
    value = session.db.lookup_read(argv[1], dict)
    if value is None:
        return 0
    item = value.get(argv[2])
    return 0 if item is None else len(item)


@define("hkeys", 2, "readonly", 1, 1, 1, group="hash", since="2.0.0")
def hkeys(session: Session, argv: list[bytes]) -> Any:
    """HKEYS key"""
    value = session.db.lookup_read(argv[1], dict)
    return [] if value is None else list(value)


@define("hvals", 2, "readonly", 1, 1, 1, group="hash", since="2.0.0")
def hvals(session: Session, argv: list[bytes]) -> Any:
    """HVALS key"""
    value = session.db.lookup_read(argv[1], dict)
    return [] if value is None else list(value.values())


@define("hincrby", 4, "write denyoom fast", 1, 1, 1, group="hash", since="2.0.0")
def hincrby(session: Session, argv: list[bytes]) -> Any:
    """HINCRBY key field increment"""
    increment = to_int(argv[3])
    db = session.db
    key, field = argv[1], argv[2]
    value = db.lookup_write(key, dict)
    old = None if value is None else value.get(field)
    result = increment if old is None else to_int(old, NOT_HASH_INTEGER) + increment
    if result > INT64_MAX or result < INT64_MIN:
        raise ReplyError(OVERFLOW)
    if value is None:
        db.add(key, {field: b"%d" % result})
    else:
        text = b"%d" % result
        if old is not None and len(old) > len(text):  # a shorter value replaces a possibly long one
            keep_hashtable(db, key, value, (old,))
        value[field] = text
        db.modified(key)
    db.notify("h", b"hincrby", key)
    return result


@define("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, group="hash", since="2.6.0")
def hincrbyfloat(session: Session, argv: list[bytes]) -> Any:
    """HINCRBYFLOAT key field increment"""
    increment = parse_long_double(argv[3])
    if increment is None:
        raise ReplyError(NOT_FLOAT)
    if not is_finite(increment):
        raise ReplyError("ERR value is NaN or Infinity")
    db = session.db
    key, field = argv[1], argv[2]
    value = db.lookup_write(key, dict)
    result = incr_by_float(None if value is None else value.get(field), increment)
    if result is None:
        raise ReplyError(NOT_HASH_FLOAT)
    if not is_finite(result):
        raise ReplyError(NAN_OR_INFINITY)
    text = format_long_double_human(result)
    if value is None:
        db.add(key, {field: text})
    else:
        old = value.get(field)
        if old is not None and len(old) > len(text):  # a shorter value replaces a possibly long one
            keep_hashtable(db, key, value, (old,))
        value[field] = text
        db.modified(key)
    db.notify("h", b"hincrbyfloat", key)
    return text


@define("hscan", -3, "readonly", 1, 1, 1, group="hash", since="2.8.0")
def hscan(session: Session, argv: list[bytes]) -> Any:
    """HSCAN key cursor [MATCH pattern] [COUNT count]"""
    parse_cursor(argv[2])
    value = session.db.lookup_read(argv[1], dict)
    if value is None:
        return [b"0", []]
    matches = parse_scan_options(argv, 3)
    if matches is None:
        return [b"0", list(chain.from_iterable(value.items()))]
    out: list[bytes] = []
    for field, item in value.items():
        if matches(field):
            out.append(field)
            out.append(item)
    return [b"0", out]


@define("hrandfield", -2, "readonly", 1, 1, 1, group="hash", since="6.2.0")
def hrandfield(session: Session, argv: list[bytes]) -> Any:
    """HRANDFIELD key [count [WITHVALUES]]"""
    if len(argv) == 2:
        value = session.db.lookup_read(argv[1], dict)
        return None if value is None else random_field(value)
    count = to_int(argv[2])
    if count == INT64_MIN:
        raise ReplyError(COUNT_RANGE)
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
        raise ReplyError(SYNTAX)
    with_values = len(argv) == 4
    if with_values and not -_HALF_LONG_MAX <= count <= _HALF_LONG_MAX:
        raise ReplyError("ERR value is out of range")
    value = session.db.lookup_read(argv[1], dict)
    if value is None or count == 0:
        return []
    if count < 0 or count == 1:
        # Sampling with repetition, in random order.
        if not with_values:
            return random.choices(list(value), k=abs(count))
        pairs = random.choices(list(value.items()), k=abs(count))
    elif count >= len(value):
        if not with_values:
            return list(value)
        pairs = list(value.items())
    else:
        # Distinct fields, kept in the hash's order as a listpack gives them.
        items = list(value.items())
        pairs = [items[i] for i in sorted(random.sample(range(len(items)), count))]
        if not with_values:
            return [field for field, _ in pairs]
    if session.protocol == 3:
        return [[field, item] for field, item in pairs]
    return list(chain.from_iterable(pairs))

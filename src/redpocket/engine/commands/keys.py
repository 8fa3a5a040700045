"""Generic keyspace commands: DEL EXISTS TYPE RENAME COPY MOVE KEYS SCAN the EXPIRE family, FLUSHDB, SWAPDB ...

SORT lives in :mod:`.sort`; the glob matcher and SCAN cursor in
:mod:`redpocket.engine.types.scan`.
"""

from __future__ import annotations

import random
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, Final

from ..args import INT64_MAX, to_int
from ..keyspace import now_ms, type_name
from ..registry import define
from ..replies import DB_INDEX, NO_SUCH_KEY, NOT_INTEGER, OK, SYNTAX, ReplyError, SimpleString
from ..types.scan import forget_cursors, glob_matcher, keyspace_cursor, parse_cursor

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

SAME_OBJECT: Final = "ERR source and destination objects are the same"
INT_RANGE: Final = "ERR value is out of range, value must between -2147483648 and 2147483647"
_NX, _XX, _GT, _LT = 1, 2, 4, 8
_EXPIRE_FLAGS: Final = {b"NX": _NX, b"XX": _XX, b"GT": _GT, b"LT": _LT}


def to_int32(value: bytes, message: str | None = None) -> int:
    """Parse a C ``int`` as Redis's ``getIntFromObjectOrReply`` does."""
    number = to_int(value, message or NOT_INTEGER)
    if not -(2**31) <= number < 2**31:
        raise ReplyError(message or INT_RANGE)
    return number


def copy_value(value: Any) -> Any:
    """Return a copy of a stored value deep enough for COPY (elements are immutable bytes)."""
    if type(value) is bytes:
        return value
    return value.copy()


def target_db(session: Session, value: bytes) -> Database:
    """Return the database numbered ``value`` (MOVE, COPY ... DB), with Redis's errors."""
    index = to_int32(value)
    databases = session.engine.databases
    if not 0 <= index < len(databases):
        raise ReplyError(DB_INDEX)
    return databases[index]


# -- existence, deletion, type ---------------------------------------------------


@define("del", -2, "write", 1, -1, 1, group="generic")
def del_(session: Session, argv: list[bytes]) -> Any:
    """DEL key [key ...]"""
    db = session.db
    delete = db.delete
    deleted = 0
    for key in argv[1:]:  # a loop: cheaper than sum() over a generator
        if delete(key):
            db.notify("g", b"del", key)
            deleted += 1
    return deleted


@define("unlink", -2, "write fast", 1, -1, 1, group="generic", since="4.0.0")
def unlink(session: Session, argv: list[bytes]) -> Any:
    """UNLINK key [key ...]"""
    return del_(session, argv)


@define("exists", -2, "readonly fast", 1, -1, 1, group="generic")
def exists(session: Session, argv: list[bytes]) -> Any:
    """EXISTS key [key ...]"""
    return _count_existing(session, argv, touch=False)


def _count_existing(session: Session, argv: list[bytes], touch: bool) -> int:
    lookup = session.db.lookup_read
    found = 0
    for key in argv[1:]:
        if lookup(key, None, touch) is not None:
            found += 1
    return found


@define("touch", -2, "readonly fast", 1, -1, 1, group="generic", since="3.2.1")
def touch(session: Session, argv: list[bytes]) -> Any:
    """TOUCH key [key ...]"""
    return _count_existing(session, argv, touch=True)


@define("type", 2, "readonly fast", 1, 1, 1, group="generic")
def type_(session: Session, argv: list[bytes]) -> Any:
    """TYPE key"""
    value = session.db.lookup_read(argv[1], touch=False)
    return SimpleString(b"none" if value is None else type_name(value).encode())


# -- renaming, copying, moving ----------------------------------------------------


def _rename(session: Session, argv: list[bytes], nx: bool) -> Any:
    db = session.db
    source, destination = argv[1], argv[2]
    value = db.lookup_write(source)
    if value is None:
        raise ReplyError(NO_SUCH_KEY)
    if source == destination:
        return 0 if nx else OK
    expire = db.expires.get(source)
    if db.lookup_write(destination) is not None:
        if nx:
            return 0
        db.delete(destination)
    db.add(destination, value, encoding=db.encodings.get(source))
    if expire is not None:
        db.set_expire(destination, expire)
    db.delete(source)
    db.notify("g", b"rename_from", source)
    db.notify("g", b"rename_to", destination)
    return 1 if nx else OK


@define("rename", 3, "write", 1, 2, 1, group="generic")
def rename(session: Session, argv: list[bytes]) -> Any:
    """RENAME key newkey"""
    return _rename(session, argv, False)


@define("renamenx", 3, "write fast", 1, 2, 1, group="generic")
def renamenx(session: Session, argv: list[bytes]) -> Any:
    """RENAMENX key newkey"""
    return _rename(session, argv, True)


@define("copy", -3, "write denyoom", 1, 2, 1, group="generic", since="6.2.0")
def copy(session: Session, argv: list[bytes]) -> Any:
    """COPY source destination [DB destination-db] [REPLACE]"""
    source_db = destination_db = session.db
    replace = False
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if option == b"REPLACE":
            replace = True
        elif option == b"DB" and i + 1 < len(argv):
            destination_db = target_db(session, argv[i + 1])
            i += 1
        else:
            raise ReplyError(SYNTAX)
        i += 1
    source, destination = argv[1], argv[2]
    if source_db is destination_db and source == destination:
        raise ReplyError(SAME_OBJECT)
    value = source_db.lookup_read(source)
    if value is None:
        return 0
    expire = source_db.expires.get(source)
    if destination_db.lookup_write(destination) is not None:
        if not replace:
            return 0
        destination_db.delete(destination)
    destination_db.add(destination, copy_value(value), encoding=source_db.encodings.get(source))
    if expire is not None:
        destination_db.set_expire(destination, expire)
    destination_db.notify("g", b"copy_to", destination)
    return 1


@define("move", 3, "write fast", 1, 1, 1, group="generic")
def move(session: Session, argv: list[bytes]) -> Any:
    """MOVE key db"""
    source_db = session.db
    destination_db = target_db(session, argv[2])
    if destination_db is source_db:
        raise ReplyError(SAME_OBJECT)
    key = argv[1]
    value = source_db.lookup_write(key)
    if value is None or destination_db.lookup_write(key) is not None:
        return 0
    expire = source_db.expires.get(key)
    destination_db.add(key, value, encoding=source_db.encodings.get(key))
    if expire is not None:
        destination_db.set_expire(key, expire)
    source_db.delete(key)
    source_db.notify("g", b"move_from", key)
    destination_db.notify("g", b"move_to", key)
    return 1


# -- listing keys -----------------------------------------------------------------------


@define("keys", 2, "readonly", group="generic")
def keys(session: Session, argv: list[bytes]) -> Any:
    """KEYS pattern"""
    db = session.db
    pattern = argv[1]
    if pattern == b"*":
        found = list(db.data)
    else:
        match = glob_matcher(pattern)
        found = [key for key in db.data if match(key)]
    expires = db.expires
    if expires and found:
        # Like Redis, hide logically expired keys without deleting them.
        now = now_ms()
        found = [key for key in found if expires.get(key, now + 1) > now]
    return found


@define("scan", -2, "readonly", group="generic", since="2.8.0")
def scan(session: Session, argv: list[bytes]) -> Any:
    """SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]"""
    cursor = parse_cursor(argv[1])
    count = 10
    pattern = kind = None
    i = 2
    while i < len(argv):
        option = argv[i].upper()
        if i + 1 >= len(argv):
            raise ReplyError(SYNTAX)
        if option == b"COUNT":
            count = to_int(argv[i + 1])
            if count < 1:
                raise ReplyError(SYNTAX)
        elif option == b"MATCH":
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif option == b"TYPE":
            kind = argv[i + 1].lower()
        else:
            raise ReplyError(SYNTAX)
        i += 2
    db = session.db
    batch, next_cursor = keyspace_cursor(db, cursor == 0).batch(cursor, count)
    data = db.data
    batch = [key for key in batch if key in data]
    if pattern is not None:
        match = glob_matcher(pattern)
        batch = [key for key in batch if match(key)]
    if kind is not None:
        batch = [key for key in batch if type_name(data[key]).encode() == kind]
    if db.expires:
        expire_if_needed = db.expire_if_needed
        batch = [key for key in batch if key not in db.expires or not expire_if_needed(key)]
    return [b"%d" % next_cursor, batch]


@define("randomkey", 1, "readonly", group="generic")
def randomkey(session: Session, argv: list[bytes]) -> Any:
    """RANDOMKEY"""
    db = session.db
    while db.data:
        data = db.data
        key = next(islice(data, random.randrange(len(data)), None))
        if key not in db.expires or not db.expire_if_needed(key):
            return key
    return None


@define("dbsize", 1, "readonly fast", group="server")
def dbsize(session: Session, argv: list[bytes]) -> Any:
    """DBSIZE"""
    # Like Redis 7.0, keys logically expired but not yet reclaimed still count.
    return len(session.db.data)


# -- expiry --------------------------------------------------------------------------------


def _expire(session: Session, argv: list[bytes], relative: bool, unit_ms: int) -> Any:
    """Run Redis's ``expireGenericCommand``: a time from now (``relative``) or from the epoch, in ``unit_ms``."""
    flags = 0
    if len(argv) > 3:
        for option in argv[3:]:
            flag = _EXPIRE_FLAGS.get(option.upper())
            if flag is None:
                name = option.split(b"\0", 1)[0].decode("utf-8", "replace")
                raise ReplyError(f"ERR Unsupported option {name}")
            flags |= flag
        if flags & _NX and flags & (_XX | _GT | _LT):
            raise ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible")
        if flags & _GT and flags & _LT:
            raise ReplyError("ERR GT and LT options at the same time are not compatible")
    now = now_ms()
    base_ms = now if relative else 0
    when = to_int(argv[2])
    if unit_ms == 1000:
        if when > INT64_MAX // 1000 or when < -(INT64_MAX // 1000):
            raise _invalid_expire(argv)
        when *= 1000
    if when > INT64_MAX - base_ms:
        raise _invalid_expire(argv)
    when += base_ms
    db = session.db
    key = argv[1]
    if db.lookup_write(key) is None:
        return 0
    if flags:
        current = db.expires.get(key)
        if flags & _NX and current is not None:
            return 0
        if flags & _XX and current is None:
            return 0
        if flags & _GT and (current is None or when <= current):
            return 0
        if flags & _LT and current is not None and when >= current:
            return 0
    if when <= now:
        db.delete(key)
        db.notify("g", b"del", key)
        return 1
    db.set_expire(key, when)
    db.modified(key)
    db.notify("g", b"expire", key)
    return 1


def _invalid_expire(argv: list[bytes]) -> ReplyError:
    return ReplyError(f"ERR invalid expire time in '{argv[0].decode('utf-8', 'replace').lower()}' command")


@define("expire", -3, "write fast", 1, 1, 1, group="generic")
def expire(session: Session, argv: list[bytes]) -> Any:
    """EXPIRE key seconds [NX|XX|GT|LT]"""
    return _expire(session, argv, True, 1000)


@define("pexpire", -3, "write fast", 1, 1, 1, group="generic", since="2.6.0")
def pexpire(session: Session, argv: list[bytes]) -> Any:
    """PEXPIRE key milliseconds [NX|XX|GT|LT]"""
    return _expire(session, argv, True, 1)


@define("expireat", -3, "write fast", 1, 1, 1, group="generic", since="1.2.0")
def expireat(session: Session, argv: list[bytes]) -> Any:
    """EXPIREAT key unix-time-seconds [NX|XX|GT|LT]"""
    return _expire(session, argv, False, 1000)


@define("pexpireat", -3, "write fast", 1, 1, 1, group="generic", since="2.6.0")
def pexpireat(session: Session, argv: list[bytes]) -> Any:
    """PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]"""
    return _expire(session, argv, False, 1)


def _ttl(session: Session, key: bytes, in_ms: bool, absolute: bool) -> int:
    db = session.db
    if db.lookup_read(key, touch=False) is None:  # (Redis: LOOKUP_NOTOUCH, OBJECT IDLETIME goes on)
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    ttl = max(when if absolute else when - now_ms(), 0)
    return ttl if in_ms else (ttl + 500) // 1000


@define("ttl", 2, "readonly fast", 1, 1, 1, group="generic")
def ttl(session: Session, argv: list[bytes]) -> Any:
    """TTL key"""
    return _ttl(session, argv[1], False, False)


@define("pttl", 2, "readonly fast", 1, 1, 1, group="generic", since="2.6.0")
def pttl(session: Session, argv: list[bytes]) -> Any:
    """PTTL key"""
    return _ttl(session, argv[1], True, False)


@define("expiretime", 2, "readonly fast", 1, 1, 1, group="generic", since="7.0.0")
def expiretime(session: Session, argv: list[bytes]) -> Any:
    """EXPIRETIME key"""
    return _ttl(session, argv[1], False, True)


@define("pexpiretime", 2, "readonly fast", 1, 1, 1, group="generic", since="7.0.0")
def pexpiretime(session: Session, argv: list[bytes]) -> Any:
    """PEXPIRETIME key"""
    return _ttl(session, argv[1], True, True)


@define("persist", 2, "write fast", 1, 1, 1, group="generic", since="2.2.0")
def persist(session: Session, argv: list[bytes]) -> Any:
    """PERSIST key"""
    db = session.db
    key = argv[1]
    if db.lookup_write(key) is None or not db.persist(key):
        return 0
    db.modified(key)
    db.notify("g", b"persist", key)
    return 1


# -- whole databases -------------------------------------------------------------------------


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
        raise ReplyError(SYNTAX)


@define("flushdb", -1, "write", group="server")
def flushdb(session: Session, argv: list[bytes]) -> Any:
    """FLUSHDB [ASYNC|SYNC]"""
    _flush_mode(argv)
    session.db.flush()
    return OK


@define("flushall", -1, "write", group="server")
def flushall(session: Session, argv: list[bytes]) -> Any:
    """FLUSHALL [ASYNC|SYNC]"""
    _flush_mode(argv)
    for db in session.engine.databases:
        db.flush()
    forget_cursors(session.engine)
    return OK


@define("swapdb", 3, "write fast", group="server", since="4.0.0")
def swapdb(session: Session, argv: list[bytes]) -> Any:
    """SWAPDB index1 index2"""
    first = to_int32(argv[1], "ERR invalid first DB index")
    second = to_int32(argv[2], "ERR invalid second DB index")
    engine = session.engine
    databases = engine.databases
    if not (0 <= first < len(databases) and 0 <= second < len(databases)):
        raise ReplyError(DB_INDEX)
    if first == second:
        return OK
    one, two = databases[first], databases[second]
    if engine.watched_keys:
        # Redis's touchAllWatchedKeysInDb: a watched key changes if it exists on either side.
        for index, key in list(engine.watched_keys):
            if index in (first, second) and (key in one.data or key in two.data):
                engine.touch_watched(index, key)
    one.data, two.data = two.data, one.data
    one.expires, two.expires = two.expires, one.expires
    one.encodings, two.encodings = two.encodings, one.encodings
    one.accessed, two.accessed = two.accessed, one.accessed
    one.used, two.used = two.used, one.used
    one.sizes, two.sizes = two.sizes, one.sizes
    one.stale, two.stale = two.stale, one.stale
    one.sampler, two.sampler = two.sampler, one.sampler
    one.volatile_sampler, two.volatile_sampler = two.volatile_sampler, one.volatile_sampler
    engine.dirty += 1
    if engine.blocked_clients:
        # Clients blocked on a key of either database retry against the swapped data (a key that
        # exists on neither side did not change): Redis's scanDatabaseForReadyKeys and
        # scanDatabaseForDeletedStreams on both databases.
        for db in (one, two):
            for key in chain(one.data, two.data):
                db.signal_ready(key)
    return OK

"""Set commands: SADD SREM SMEMBERS SPOP SRANDMEMBER SMOVE, the algebra (SINTER ...) and SSCAN.

A set is a Python ``set`` of ``bytes``.  Redis 7.0 keeps a set of at most
``set-max-intset-entries`` integers as an intset and replies with its
members in ascending numeric order; such sets are answered in that order
here too.  Other sets live in a Redis hash table whose order cannot be
reproduced, so any order is as good as Redis's.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from ..args import INT64_MIN, to_int
from ..registry import define, numkeys_finder
from ..replies import NOT_POSITIVE, SYNTAX, ReplyError, set_reply
from ..types.hash_scan import parse_cursor, parse_scan_options
from ..types.set import keep_hashtable, ordered, random_member
from .hashes import COUNT_RANGE

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

# Above this size SPOP takes Python's arbitrary (hash-seeded) member in
# O(1) rather than a uniformly random one in O(n).
_UNIFORM_POP_LIMIT = 4096


def _intset_limit(session: Session) -> int:
    return session.engine.config.get_int("set-max-intset-entries")


def _members_reply(session: Session, members: Collection[bytes]) -> Any:
    return set_reply(session.protocol, ordered(members, _intset_limit(session)))


@define("sadd", -3, "write denyoom fast", 1, 1, 1, group="set", since="1.0.0")
def sadd(session: Session, argv: list[bytes]) -> Any:
    """SADD key member [member ...]"""
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, set)
    if value is None:
        value = set(argv[2:])
        db.add(key, value)
        db.notify("s", b"sadd", key)
        return len(value)
    before = len(value)
    if len(argv) == 3:  # one member, the common case: no slice
        value.add(argv[2])
    else:
        value.update(argv[2:])
    added = len(value) - before
    if added:
        db.modified(key)
        db.notify("s", b"sadd", key)
    return added


@define("srem", -3, "write fast", 1, 1, 1, group="set", since="1.0.0")
def srem(session: Session, argv: list[bytes]) -> Any:
    """SREM key member [member ...]"""
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, set)
    if value is None:
        return 0
    present = [member for member in argv[2:] if member in value]
    if present:
        keep_hashtable(db, key, len(value), present)
    before = len(value)
    value.difference_update(present)
    removed = before - len(value)
    if removed:
        db.modified(key)
        db.notify("s", b"srem", key)
        db.remove_if_empty(key, value)
    return removed


@define("smembers", 2, "readonly", 1, 1, 1, group="set", since="1.0.0")
def smembers(session: Session, argv: list[bytes]) -> Any:
    """SMEMBERS key"""
    value = session.db.lookup_read(argv[1], set)
    return _members_reply(session, () if value is None else value)


@define("sismember", 3, "readonly fast", 1, 1, 1, group="set", since="1.0.0")
def sismember(session: Session, argv: list[bytes]) -> Any:
    """SISMEMBER key member"""
    value = session.db.lookup_read(argv[1], set)
    return 1 if value is not None and argv[2] in value else 0


@define("smismember", -3, "readonly fast", 1, 1, 1, group="set", since="6.2.0")
def smismember(session: Session, argv: list[bytes]) -> Any:
    """SMISMEMBER key member [member ...]"""
    value = session.db.lookup_read(argv[1], set)
    if value is None:
        return [0] * (len(argv) - 2)
    return [1 if member in value else 0 for member in argv[2:]]


@define("scard", 2, "readonly fast", 1, 1, 1, group="set", since="1.0.0")
def scard(session: Session, argv: list[bytes]) -> Any:
    """SCARD key"""
    value = session.db.lookup_read(argv[1], set)
    return 0 if value is None else len(value)


@define("spop", -2, "write fast", 1, 1, 1, group="set", since="1.0.0")
def spop(session: Session, argv: list[bytes]) -> Any:
    """SPOP key [count]"""
    db = session.db
    key = argv[1]
    if len(argv) == 2:
        value = db.lookup_write(key, set)
        if value is None:
            return None
        size = len(value)
        if size <= _UNIFORM_POP_LIMIT:
            member = random_member(value)
            value.remove(member)
        else:
            member = value.pop()  # (set.pop resumes where it stopped: no rescan of freed slots)
        keep_hashtable(db, key, size, (member,))
        db.modified(key)
        db.notify("s", b"spop", key)
        db.remove_if_empty(key, value)
        return member
    if len(argv) > 3:
        raise ReplyError(SYNTAX)
    count = to_int(argv[2], NOT_POSITIVE)
    if count < 0:
        raise ReplyError(NOT_POSITIVE)
    value = db.lookup_write(key, set)
    if value is None or count == 0:
        return set_reply(session.protocol, [])
    db.notify("s", b"spop", key)
    if count >= len(value):
        db.delete(key)
        db.notify("g", b"del", key)
        return _members_reply(session, value)
    popped = random.sample(tuple(value), count)
    keep_hashtable(db, key, len(value), popped)
    value.difference_update(popped)
    db.modified(key)
    return set_reply(session.protocol, popped)


@define("srandmember", -2, "readonly", 1, 1, 1, group="set", since="1.0.0")
def srandmember(session: Session, argv: list[bytes]) -> Any:
    """SRANDMEMBER key [count]"""
    if len(argv) == 2:
        value = session.db.lookup_read(argv[1], set)
        return None if value is None else random_member(value)
    if len(argv) > 3:
        raise ReplyError(SYNTAX)
    count = to_int(argv[2])
    if count == INT64_MIN:
        raise ReplyError(COUNT_RANGE)
    value = session.db.lookup_read(argv[1], set)
    if value is None or count == 0:
        return []
    if count < 0:
        return random.choices(tuple(value), k=-count)
    if count >= len(value):
        return ordered(value, _intset_limit(session))
    return random.sample(tuple(value), count)


@define("smove", 4, "write fast", 1, 2, 1, group="set", since="1.0.0")
def smove(session: Session, argv: list[bytes]) -> Any:
    """SMOVE source destination member"""
    db = session.db
    source_key, destination_key, member = argv[1], argv[2], argv[3]
    source = db.lookup_write(source_key, set)
    destination = db.lookup_write(destination_key)
    if source is None:
        return 0
    if destination is not None and type(destination) is not set:
        db.lookup_write(destination_key, set)  # raises WRONGTYPE
    if source is destination:
        return 1 if member in source else 0
    if member not in source:
        return 0
    keep_hashtable(db, source_key, len(source), (member,))
    source.remove(member)
    db.modified(source_key)
    db.notify("s", b"srem", source_key)
    db.remove_if_empty(source_key, source)
    if destination is None:
        db.add(destination_key, {member})
        db.notify("s", b"sadd", destination_key)
    elif member not in destination:
        destination.add(member)
        db.modified(destination_key)
        db.notify("s", b"sadd", destination_key)
    return 1


def _load_sets(db: Database, keys: Iterable[bytes], write: bool) -> list[set[bytes] | None]:
    """Look up every key as a set (``None`` when absent); WRONGTYPE if any is not a set."""
    lookup = db.lookup_write if write else db.lookup_read
    return [lookup(key, set) for key in keys]


def _intersection(sets: list[set[bytes] | None]) -> set[bytes]:
    if any(value is None for value in sets):
        return set()
    ordered_sets: list[set[bytes]] = sorted(sets, key=len)  # type: ignore[arg-type]
    return ordered_sets[0].intersection(*ordered_sets[1:])


def _union(sets: list[set[bytes] | None]) -> set[bytes]:
    return set().union(*[value for value in sets if value is not None])


def _difference(sets: list[set[bytes] | None]) -> set[bytes]:
    first = sets[0]
    if first is None:
        return set()
    return first.difference(*[value for value in sets[1:] if value is not None])


def _store(session: Session, destination: bytes, result: set[bytes], event: bytes) -> int:
    """Store an algebra result at ``destination`` (deleting it when empty); return its size."""
    db = session.db
    if result:
        db.set(destination, result)
        db.notify("s", event, destination)
    elif db.delete(destination):
        db.notify("g", b"del", destination)
    return len(result)


@define("sinter", -2, "readonly", 1, -1, 1, group="set", since="1.0.0")
def sinter(session: Session, argv: list[bytes]) -> Any:
    """SINTER key [key ...]"""
    return _members_reply(session, _intersection(_load_sets(session.db, argv[1:], False)))


@define("sunion", -2, "readonly", 1, -1, 1, group="set", since="1.0.0")
def sunion(session: Session, argv: list[bytes]) -> Any:
    """SUNION key [key ...]"""
    return _members_reply(session, _union(_load_sets(session.db, argv[1:], False)))


@define("sdiff", -2, "readonly", 1, -1, 1, group="set", since="1.0.0")
def sdiff(session: Session, argv: list[bytes]) -> Any:
    """SDIFF key [key ...]"""
    return _members_reply(session, _difference(_load_sets(session.db, argv[1:], False)))


@define("sinterstore", -3, "write denyoom", 1, -1, 1, group="set", since="1.0.0")
def sinterstore(session: Session, argv: list[bytes]) -> Any:
    """SINTERSTORE destination key [key ...]"""
    return _store(session, argv[1], _intersection(_load_sets(session.db, argv[2:], True)), b"sinterstore")


@define("sunionstore", -3, "write denyoom", 1, -1, 1, group="set", since="1.0.0")
def sunionstore(session: Session, argv: list[bytes]) -> Any:
    """SUNIONSTORE destination key [key ...]"""
    return _store(session, argv[1], _union(_load_sets(session.db, argv[2:], True)), b"sunionstore")


@define("sdiffstore", -3, "write denyoom", 1, -1, 1, group="set", since="1.0.0")
def sdiffstore(session: Session, argv: list[bytes]) -> Any:
    """SDIFFSTORE destination key [key ...]"""
    return _store(session, argv[1], _difference(_load_sets(session.db, argv[2:], True)), b"sdiffstore")


@define("sintercard", -3, "readonly movablekeys", keys=numkeys_finder(1), group="set", since="7.0.0")
def sintercard(session: Session, argv: list[bytes]) -> Any:
    """SINTERCARD numkeys key [key ...] [LIMIT limit]"""
    numkeys = to_int(argv[1], "ERR numkeys should be greater than 0")
    if numkeys < 1:
        raise ReplyError("ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise ReplyError("ERR Number of keys can't be greater than number of args")
    limit = 0
    pos = 2 + numkeys
    while pos < len(argv):
        if argv[pos].lower() == b"limit" and pos + 1 < len(argv):
            limit = to_int(argv[pos + 1], "ERR LIMIT can't be negative")
            if limit < 0:
                raise ReplyError("ERR LIMIT can't be negative")
            pos += 2
        else:
            raise ReplyError(SYNTAX)
    sets = _load_sets(session.db, argv[2 : 2 + numkeys], False)
    if any(value is None for value in sets):
        return 0
    ordered_sets: list[set[bytes]] = sorted(sets, key=len)  # type: ignore[arg-type]
    smallest, others = ordered_sets[0], ordered_sets[1:]
    if not limit:
        return len(smallest.intersection(*others))
    count = 0
    for member in smallest:
        for other in others:
            if member not in other:
                break
        else:
            count += 1
            if count == limit:
                break
    return count


@define("sscan", -3, "readonly", 1, 1, 1, group="set", since="2.8.0")
def sscan(session: Session, argv: list[bytes]) -> Any:
    """SSCAN key cursor [MATCH pattern] [COUNT count]"""
    parse_cursor(argv[2])
    value = session.db.lookup_read(argv[1], set)
    if value is None:
        return [b"0", []]
    matches = parse_scan_options(argv, 3)
    members = ordered(value, _intset_limit(session))
    if matches is not None:
        members = [member for member in members if matches(member)]
    return [b"0", members]

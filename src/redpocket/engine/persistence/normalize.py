"""Turn an executed write command into commands whose replay gives the same dataset.

The append-only file logs what a command *did*, not what the client asked
for, wherever the two can differ on replay:

- a relative time (``EXPIRE``, ``SET ... EX``, ``SETEX``, ``GETEX PX`` ...)
  becomes the absolute expiry the command set (``PEXPIREAT``, ``SET ... PXAT``),
  read back from the database, so replaying later expires at the same instant;
- a random or reply-dependent effect becomes the effect: ``SPOP`` becomes
  ``SREM`` of the members it returned, ``INCRBYFLOAT`` a ``SET`` of the result
  (``KEEPTTL``), a blocking pop the non-blocking pop that served it;
- a command whose result depends on iteration order (``SORT ... STORE``)
  becomes the stored list itself;
- a handler that knows what it did better than any normaliser could says so
  itself (``session.propagated``, Redis's ``alsoPropagate``): a stream write
  becomes XADD with its generated ID and exact trimming, XREADGROUP / XCLAIM
  / XAUTOCLAIM ``XCLAIM ... JUSTID`` and ``XGROUP SETID`` commands; the
  append-only file logs those instead of normalising.

Each normaliser runs right after its command, under the engine lock, so the
database it reads is exactly the command's result.  Commands absent from
:data:`NORMALIZERS` are deterministic and are logged as they came.  A
custom structure command declared ``deterministic=False`` is logged as the
structure's state (see :mod:`redpocket.engine.structures`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .snapshot import ITEMS_PER_COMMAND, RESTORE_COMMAND, copy_value, value_commands

if TYPE_CHECKING:
    from ..keyspace import Database

Commands = list[list[bytes]]
Normalizer = Callable[["Database", list[bytes], Any], Commands]

_TTL_OPTIONS: Final = frozenset({b"EX", b"PX", b"EXAT", b"PXAT"})


def expiry_state(db: Database, key: bytes) -> Commands:
    """Return the command that gives ``key`` its current expiry: ``PEXPIREAT``, ``PERSIST`` or ``DEL``."""
    if key not in db.data:
        return [[b"DEL", key]]
    when = db.expires.get(key)
    if when is None:
        return [[b"PERSIST", key]]
    return [[b"PEXPIREAT", key, b"%d" % when]]


def _set_state(db: Database, key: bytes, value: bytes) -> Commands:
    """Return ``SET key value`` with the expiry the key has now (or ``DEL`` if it is gone)."""
    if key not in db.data:
        return [[b"DEL", key]]
    when = db.expires.get(key)
    if when is None:
        return [[b"SET", key, value]]
    return [[b"SET", key, value, b"PXAT", b"%d" % when]]


def key_state(db: Database, key: bytes) -> Commands:
    """Return commands that recreate ``key`` exactly as it is now: ``DEL`` then the value and expiry."""
    commands: Commands = [[b"DEL", key]]
    value = db.data.get(key)
    if value is None:
        return commands
    tag, copy = copy_value(value)
    commands.extend(value_commands(key, tag, copy))
    when = db.expires.get(key)
    if when is not None:
        commands.append([b"PEXPIREAT", key, b"%d" % when])
    return commands


def structure_state(db: Database, key: bytes) -> Commands:
    """Return the command that replaces a custom structure's value by its current state (TTL kept)."""
    value = db.data.get(key)
    if value is None:
        return [[b"DEL", key]]
    _tag, (name, payload) = copy_value(value)
    return [[RESTORE_COMMAND, key, name, payload]]


# -- strings -------------------------------------------------------------------------------


def _set(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]: it set the value.
    return _set_state(db, argv[1], argv[2])


def _setex(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # SETEX / PSETEX key time value
    return _set_state(db, argv[1], argv[3])


def _getex(db: Database, argv: list[bytes], reply: Any) -> Commands:
    return expiry_state(db, argv[1])


def _getdel(db: Database, argv: list[bytes], reply: Any) -> Commands:
    return [[b"DEL", argv[1]]]


def _incrbyfloat(db: Database, argv: list[bytes], reply: Any) -> Commands:
    value = db.data.get(argv[1])
    if type(value) is not bytes:
        return key_state(db, argv[1])
    return [[b"SET", argv[1], value, b"KEEPTTL"]]


def _hincrbyfloat(db: Database, argv: list[bytes], reply: Any) -> Commands:
    value = db.data.get(argv[1])
    if type(value) is not dict or argv[2] not in value:
        return key_state(db, argv[1])
    return [[b"HSET", argv[1], argv[2], value[argv[2]]]]


# -- keys -----------------------------------------------------------------------------------


def _expire(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT]: the condition held.
    return expiry_state(db, argv[1])


def _sort(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # SORT ... STORE destination: the stored order may come from a set's iteration order.
    for i in range(2, len(argv) - 1):
        if argv[i].upper() == b"STORE":
            return key_state(db, argv[i + 1])
    return [argv]


# -- sets, lists, sorted sets ------------------------------------------------------------


def _members(reply: Any) -> list[bytes]:
    if reply is None:
        return []
    if isinstance(reply, bytes):
        return [reply]
    return [member for member in reply if isinstance(member, bytes)]


def _spop(db: Database, argv: list[bytes], reply: Any) -> Commands:
    members = _members(reply)
    return [[b"SREM", argv[1], *members[i : i + ITEMS_PER_COMMAND]] for i in range(0, len(members), ITEMS_PER_COMMAND)]


def _blocking_pop(direction: bytes) -> Normalizer:
    def normalize(db: Database, argv: list[bytes], reply: Any) -> Commands:
        # BLPOP / BRPOP key [key ...] timeout -> [key, element]
        return [[direction, reply[0]]]

    return normalize


def _blmove(db: Database, argv: list[bytes], reply: Any) -> Commands:
    return [[b"LMOVE", *argv[1:5]]]


def _brpoplpush(db: Database, argv: list[bytes], reply: Any) -> Commands:
    return [[b"RPOPLPUSH", argv[1], argv[2]]]


def _list_mpop(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # [B]LMPOP [timeout] numkeys key [key ...] LEFT|RIGHT [COUNT count] -> [key, [elements]]
    key, elements = reply[0], reply[1]
    numkeys_index = 2 if argv[0].lower() == b"blmpop" else 1
    direction = argv[numkeys_index + 1 + int(argv[numkeys_index])].upper()
    pop = b"LPOP" if direction == b"LEFT" else b"RPOP"
    return [[pop, key, b"%d" % len(elements)]]


def _bzpop(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # BZPOPMIN / BZPOPMAX key [key ...] timeout -> [key, member, score]
    return [[b"ZREM", reply[0], reply[1]]]


def _zset_mpop(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # [B]ZMPOP ... -> [key, [[member, score], ...]] (a map under RESP3)
    key, popped = reply[0], reply[1]
    members = list(popped) if isinstance(popped, dict) else [pair[0] for pair in popped]
    return [[b"ZREM", key, *members[i : i + ITEMS_PER_COMMAND]] for i in range(0, len(members), ITEMS_PER_COMMAND)]


def _restore(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # RESTORE key ttl payload [REPLACE] [ABSTTL] ...: a relative TTL becomes the absolute one it set.
    key = argv[1]
    if key not in db.data:
        return [[b"DEL", key]]  # REPLACE of a key with a TTL already in the past: Redis logs the DEL
    when = db.expires.get(key)
    if when is None or any(option.upper() == b"ABSTTL" for option in argv[4:]):
        return [argv]
    return [[argv[0], key, b"%d" % when, *argv[3:], b"ABSTTL"]]


def _migrate(db: Database, argv: list[bytes], reply: Any) -> Commands:
    # MIGRATE moved keys away (no COPY): what this dataset saw is their deletion (Redis logs a DEL too).
    keys = argv[3:4]
    for index in range(6, len(argv)):
        if argv[index].upper() == b"KEYS":
            keys = argv[index + 1 :]
            break
    gone = [key for key in keys if key and key not in db.data]
    return [[b"DEL", *gone]] if gone else []


NORMALIZERS: Final[dict[bytes, Normalizer]] = {
    b"set": _set,
    b"setex": _setex,
    b"psetex": _setex,
    b"getex": _getex,
    b"getdel": _getdel,
    b"incrbyfloat": _incrbyfloat,
    b"hincrbyfloat": _hincrbyfloat,
    b"expire": _expire,
    b"pexpire": _expire,
    b"expireat": _expire,
    b"pexpireat": _expire,
    b"sort": _sort,
    b"spop": _spop,
    b"blpop": _blocking_pop(b"LPOP"),
    b"brpop": _blocking_pop(b"RPOP"),
    b"blmove": _blmove,
    b"brpoplpush": _brpoplpush,
    b"blmpop": _list_mpop,
    b"lmpop": _list_mpop,
    b"bzpopmin": _bzpop,
    b"bzpopmax": _bzpop,
    b"bzmpop": _zset_mpop,
    b"zmpop": _zset_mpop,
    b"restore": _restore,
    b"restore-asking": _restore,
    b"migrate": _migrate,
}


def normalize(db: Database, argv: list[bytes], reply: Any, extra: dict[bytes, Normalizer] | None = None) -> Commands:
    """Return the commands to log for ``argv``, which just ran in ``db`` and answered ``reply``.

    ``extra`` holds an engine's own normalisers (custom structures'), looked up first.
    """
    name = argv[0].lower()
    normalizer = (extra.get(name) if extra else None) or NORMALIZERS.get(name)
    if normalizer is None:
        return [argv]
    return normalizer(db, argv, reply)

"""String commands: GET SET and its variants, MGET MSET, counters, ranges, APPEND, LCS.

Values are ``bytes``.  Commands that overwrite a key (SET, GETSET, MSET,
SETEX ...) drop its TTL; commands that edit it in place (APPEND, SETRANGE,
INCR ...) keep it, as Redis's ``setKey``/``dbOverwrite`` do.  INCRBYFLOAT
computes in emulated x87 ``long double`` (:mod:`..longdouble`) so its
replies match Redis digit for digit.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

from ..args import INT64_MAX, INT64_MIN, is_int, to_int
from ..keyspace import now_ms
from ..longdouble import add_long_double, format_long_double_human, is_finite, parse_long_double
from ..registry import define
from ..replies import (
    NAN_OR_INFINITY,
    NOT_FLOAT,
    OK,
    OVERFLOW,
    SYNTAX,
    ReplyError,
    map_reply,
)
from ..types.strings import CommonSubsequence, get_range, set_range

if TYPE_CHECKING:
    from ..session import Session

# Flags of parseExtendedStringArgumentsOrReply (t_string.c).
_NX: Final = 1
_XX: Final = 2
_GET: Final = 4
_KEEPTTL: Final = 8
_PERSIST: Final = 16
_EX: Final = 32
_PX: Final = 64
_EXAT: Final = 128
_PXAT: Final = 256
_ANY_EXPIRE: Final = _EX | _PX | _EXAT | _PXAT

_EXPIRE_OPTIONS: Final = {b"EX": _EX, b"PX": _PX, b"EXAT": _EXAT, b"PXAT": _PXAT}
# For each option, the flags that make it a syntax error when already given.
_CONFLICTS: Final = {
    _NX: _XX,
    _XX: _NX,
    _GET: 0,
    _KEEPTTL: _PERSIST | _ANY_EXPIRE,
    _PERSIST: _KEEPTTL | _ANY_EXPIRE,
    _EX: _KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT,
    _PX: _KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT,
    _EXAT: _KEEPTTL | _PERSIST | _EX | _PX | _PXAT,
    _PXAT: _KEEPTTL | _PERSIST | _EX | _EXAT | _PX,
}
_SET_OPTIONS: Final = {b"NX": _NX, b"XX": _XX, b"GET": _GET, b"KEEPTTL": _KEEPTTL, b"PERSIST": _PERSIST}

_ZERO: Final = Fraction(0)
_LONG_DOUBLE_EXACT: Final = 1 << 64
_MIN_MAX_BULK: Final = 1024 * 1024


def max_string_length(session: Session) -> int:
    """Return ``proto-max-bulk-len``: the largest string a command may build."""
    return session.engine.config.get_int("proto-max-bulk-len")


def check_string_length(session: Session, size: int) -> None:
    """Refuse to build a string longer than ``proto-max-bulk-len`` (Redis's ``checkStringLength``)."""
    # proto-max-bulk-len is at least 1mb: read it only for longer strings.
    if size > _MIN_MAX_BULK and size > max_string_length(session):
        raise ReplyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


# -- SET and its options -------------------------------------------------------------


def parse_string_options(argv: list[bytes], start: int, for_set: bool) -> tuple[int, bytes | None]:
    """Parse SET's or GETEX's options from ``argv[start:]``; return (flags, expire argument).

    Options are matched as C strings (an embedded NUL ends the name), and
    repeats are allowed where Redis allows them (``EX 1 EX 2``).
    """
    flags = 0
    expire: bytes | None = None
    argc = len(argv)
    j = start
    while j < argc:
        option = argv[j].upper()
        if b"\0" in option:
            option = option[: option.index(b"\0")]
        flag = _EXPIRE_OPTIONS.get(option)
        if flag is not None:
            if flags & _CONFLICTS[flag] or j + 1 >= argc:
                raise ReplyError(SYNTAX)
            flags |= flag
            expire = argv[j + 1]
            j += 2
            continue
        flag = _SET_OPTIONS.get(option)
        if flag is None or flags & _CONFLICTS[flag] or (flag == _PERSIST) == for_set:
            raise ReplyError(SYNTAX)
        flags |= flag
        j += 1
    return flags, expire


def expire_time_ms(session: Session, argv0: bytes, expire: bytes, flags: int) -> int:
    """Turn an EX/PX/EXAT/PXAT argument into an absolute Unix time in ms, checking it as Redis does."""
    number = to_int(expire)
    seconds = flags & (_EX | _EXAT)
    if number <= 0 or (seconds and number > INT64_MAX // 1000):
        raise _invalid_expire(argv0)
    if seconds:
        number *= 1000
    if flags & (_EX | _PX):
        number += now_ms()
        # C adds in int64: an overflow wraps round to a negative time.
        if number > INT64_MAX:
            raise _invalid_expire(argv0)
    return number


def _invalid_expire(argv0: bytes) -> ReplyError:
    return ReplyError(f"ERR invalid expire time in '{argv0.decode('utf-8', 'replace').lower()}' command")


@define("set", -3, "write denyoom", 1, 1, 1, group="string")
def set_command(session: Session, argv: list[bytes]) -> Any:
    """SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"""
    argc = len(argv)
    if argc == 3:
        db = session.db
        db.set(argv[1], argv[2])
        db.notify("$", b"set", argv[1])
        return OK
    if argc == 5:
        # Fast path for the common SET key value EX|PX n.
        option = argv[3].upper()
        if option == b"EX" or option == b"PX":
            when = expire_time_ms(session, b"set", argv[4], _EX if option == b"EX" else _PX)
            db = session.db
            db.set(argv[1], argv[2])
            db.set_expire(argv[1], when)
            db.notify("$", b"set", argv[1])
            db.notify("g", b"expire", argv[1])
            return OK
    flags, expire = parse_string_options(argv, 3, True)
    if expire is not None:
        when = expire_time_ms(session, b"set", expire, flags)
    db = session.db
    key = argv[1]
    old: bytes | None = None
    if flags & _GET:
        old = db.lookup_read(key, bytes)
    if flags & (_NX | _XX):
        found = db.lookup_write(key) is not None
        if (flags & _NX and found) or (flags & _XX and not found):
            return old
    db.set(key, argv[2], bool(flags & _KEEPTTL))
    db.notify("$", b"set", key)
    if expire is not None:
        db.set_expire(key, when)
        db.notify("g", b"expire", key)
    return old if flags & _GET else OK


@define("setnx", 3, "write denyoom fast", 1, 1, 1, group="string")
def setnx(session: Session, argv: list[bytes]) -> Any:
    """SETNX key value"""
    db = session.db
    key = argv[1]
    if db.lookup_write(key) is not None:
        return 0
    db.add(key, argv[2])
    db.notify("$", b"set", key)
    return 1


def _set_with_expire(session: Session, argv: list[bytes], flag: int) -> Any:
    when = expire_time_ms(session, argv[0], argv[2], flag)
    db = session.db
    key = argv[1]
    db.set(key, argv[3])
    db.set_expire(key, when)
    db.notify("$", b"set", key)
    db.notify("g", b"expire", key)
    return OK


@define("setex", 4, "write denyoom", 1, 1, 1, group="string", since="2.0.0")
def setex(session: Session, argv: list[bytes]) -> Any:
    """SETEX key seconds value"""
    return _set_with_expire(session, argv, _EX)


@define("psetex", 4, "write denyoom", 1, 1, 1, group="string", since="2.6.0")
def psetex(session: Session, argv: list[bytes]) -> Any:
    """PSETEX key milliseconds value"""
    return _set_with_expire(session, argv, _PX)


# -- reads ------------------------------------------------------------------------


@define("get", 2, "readonly fast", 1, 1, 1, group="string")
def get(session: Session, argv: list[bytes]) -> Any:
    """GET key"""
    return session.db.lookup_read(argv[1], bytes)


@define("mget", -2, "readonly fast", 1, -1, 1, group="string")
def mget(session: Session, argv: list[bytes]) -> Any:
    """MGET key [key ...]"""
    lookup = session.db.lookup_read
    out = []
    for key in argv[1:]:
        value = lookup(key)
        out.append(value if type(value) is bytes else None)
    return out


@define("strlen", 2, "readonly fast", 1, 1, 1, group="string", since="2.2.0")
def strlen(session: Session, argv: list[bytes]) -> Any:
    """STRLEN key"""
    value = session.db.lookup_read(argv[1], bytes)
    return 0 if value is None else len(value)


@define("getrange", 4, "readonly", 1, 1, 1, group="string", since="2.4.0")
def getrange(session: Session, argv: list[bytes]) -> Any:
    """GETRANGE key start end"""
    start = to_int(argv[2])
    end = to_int(argv[3])
    value = session.db.lookup_read(argv[1], bytes)
    if value is None:
        return b""
    return get_range(value, start, end)


@define("substr", 4, "readonly", 1, 1, 1, group="string")
def substr(session: Session, argv: list[bytes]) -> Any:
    """SUBSTR key start end"""
    return getrange(session, argv)


# -- read and write -----------------------------------------------------------------


@define("getset", 3, "write denyoom fast", 1, 1, 1, group="string")
def getset(session: Session, argv: list[bytes]) -> Any:
    """GETSET key value"""
    db = session.db
    old = db.lookup_read(argv[1], bytes)
    db.set(argv[1], argv[2])
    db.notify("$", b"set", argv[1])
    return old


@define("getdel", 2, "write fast", 1, 1, 1, group="string", since="6.2.0")
def getdel(session: Session, argv: list[bytes]) -> Any:
    """GETDEL key"""
    db = session.db
    value = db.lookup_read(argv[1], bytes)
    if value is not None:
        db.delete(argv[1])
        db.notify("g", b"del", argv[1])
    return value


@define("getex", -2, "write fast", 1, 1, 1, group="string", since="6.2.0")
def getex(session: Session, argv: list[bytes]) -> Any:
    """GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"""
    flags, expire = parse_string_options(argv, 2, False)
    db = session.db
    key = argv[1]
    value = db.lookup_read(key, bytes)
    if value is None:
        return None
    if expire is not None:
        when = expire_time_ms(session, b"getex", expire, flags)
        if flags & (_EXAT | _PXAT) and when <= now_ms():
            db.delete(key)
            db.notify("g", b"del", key)
        else:
            db.set_expire(key, when)
            db.modified(key)
            db.notify("g", b"expire", key)
    elif flags & _PERSIST and db.persist(key):
        db.modified(key)
        db.notify("g", b"persist", key)
    return value


# -- writes -----------------------------------------------------------------------


@define("mset", -3, "write denyoom", 1, -1, 2, group="string", since="1.0.1")
def mset(session: Session, argv: list[bytes]) -> Any:
    """MSET key value [key value ...]"""
    if not len(argv) & 1:
        raise ReplyError("ERR wrong number of arguments for 'mset' command")
    db = session.db
    for index in range(1, len(argv), 2):
        db.set(argv[index], argv[index + 1])
        db.notify("$", b"set", argv[index])
    return OK


@define("msetnx", -3, "write denyoom", 1, -1, 2, group="string", since="1.0.1")
def msetnx(session: Session, argv: list[bytes]) -> Any:
    """MSETNX key value [key value ...]"""
    if not len(argv) & 1:
        raise ReplyError("ERR wrong number of arguments for 'msetnx' command")
    db = session.db
    lookup = db.lookup_write
    for index in range(1, len(argv), 2):
        if lookup(argv[index]) is not None:
            return 0
    for index in range(1, len(argv), 2):
        db.set(argv[index], argv[index + 1])
        db.notify("$", b"set", argv[index])
    return 1


@define("append", 3, "write denyoom fast", 1, 1, 1, group="string", since="2.0.0")
def append(session: Session, argv: list[bytes]) -> Any:
    """APPEND key value"""
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, bytes)
    if value is None:
        db.add(key, argv[2])
        db.notify("$", b"append", key)
        return len(argv[2])
    size = len(value) + len(argv[2])
    check_string_length(session, size)
    db.set(key, value + argv[2], True, encoding="raw")
    db.notify("$", b"append", key)
    return size


@define("setrange", 4, "write denyoom", 1, 1, 1, group="string", since="2.2.0")
def setrange(session: Session, argv: list[bytes]) -> Any:
    """SETRANGE key offset value"""
    offset = to_int(argv[2])
    if offset < 0:
        raise ReplyError("ERR offset is out of range")
    db = session.db
    key = argv[1]
    data = argv[3]
    value = db.lookup_write(key, bytes)
    if value is None:
        if not data:
            return 0
        check_string_length(session, offset + len(data))
        db.add(key, bytes(offset) + data, encoding="raw")
        db.notify("$", b"setrange", key)
        return offset + len(data)
    if not data:
        return len(value)
    check_string_length(session, offset + len(data))
    value = set_range(value, offset, data)
    db.set(key, value, True, encoding="raw")
    db.notify("$", b"setrange", key)
    return len(value)


# -- counters ---------------------------------------------------------------------


@define("incr", 2, "write denyoom fast", 1, 1, 1, group="string")
def incr(session: Session, argv: list[bytes], increment: int = 1) -> Any:
    """INCR key"""
    # Redis's incrDecrCommand: DECR, INCRBY and DECRBY call it with their increment.
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, bytes)
    if value is None:
        number = increment
    elif value.isdigit() and len(value) < 19 and value[0] != 48:  # to_int's fast path, inlined (hot)
        number = int(value) + increment
    else:
        number = to_int(value) + increment
    if not INT64_MIN <= number <= INT64_MAX:
        raise ReplyError(OVERFLOW)
    db.set(key, b"%d" % number, True)
    db.notify("$", b"incrby", key)  # (DECR and DECRBY too, as in Redis)
    return number


@define("decr", 2, "write denyoom fast", 1, 1, 1, group="string")
def decr(session: Session, argv: list[bytes]) -> Any:
    """DECR key"""
    return incr(session, argv, -1)


@define("incrby", 3, "write denyoom fast", 1, 1, 1, group="string")
def incrby(session: Session, argv: list[bytes]) -> Any:
    """INCRBY key increment"""
    return incr(session, argv, to_int(argv[2]))


@define("decrby", 3, "write denyoom fast", 1, 1, 1, group="string")
def decrby(session: Session, argv: list[bytes]) -> Any:
    """DECRBY key decrement"""
    decrement = to_int(argv[2])
    if decrement == INT64_MIN:
        raise ReplyError("ERR decrement would overflow")
    return incr(session, argv, -decrement)


@define("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, group="string", since="2.6.0")
def incrbyfloat(session: Session, argv: list[bytes]) -> Any:
    """INCRBYFLOAT key increment"""
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, bytes)
    increment_text = argv[2]
    if (value is None or is_int(value)) and is_int(increment_text):
        # Integers below 2**64 are exact in a long double: no rounding to emulate.
        whole = (0 if value is None else int(value)) + int(increment_text)
        if -_LONG_DOUBLE_EXACT < whole < _LONG_DOUBLE_EXACT:
            text = b"%d" % whole
            db.set(key, text, True, encoding=_float_encoding(text))
            db.notify("$", b"incrbyfloat", key)
            return text
    text = long_double_sum(value, increment_text)
    db.set(key, text, True, encoding=_float_encoding(text))
    db.notify("$", b"incrbyfloat", key)
    return text


def _float_encoding(text: bytes) -> str:
    """Return the encoding of an INCRBYFLOAT result: a string object, never an int."""
    return "embstr" if len(text) <= 44 else "raw"


def long_double_sum(value: bytes | None, increment_text: bytes) -> bytes:
    """Return INCRBYFLOAT's new text: ``value`` (absent = 0) plus the increment, in long double."""
    current = _ZERO if value is None else parse_long_double(value)
    if current is None:
        raise ReplyError(NOT_FLOAT)
    increment = parse_long_double(increment_text)
    if increment is None:
        raise ReplyError(NOT_FLOAT)
    # An infinite operand (a float; finite values are Fractions) can only
    # give inf or nan; deciding here also spares add_long_double converting
    # a huge finite Fraction to float.
    if type(current) is float or type(increment) is float:
        raise ReplyError(NAN_OR_INFINITY)
    total = add_long_double(current, increment)
    if not is_finite(total):
        raise ReplyError(NAN_OR_INFINITY)
    return format_long_double_human(total)



# -- LCS ----------------------------------------------------------------------------


@define("lcs", -3, "readonly", 1, 2, 1, group="string", since="7.0.0")
def lcs(session: Session, argv: list[bytes]) -> Any:
    """LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"""
    db = session.db
    a = db.lookup_read(argv[1])
    b = db.lookup_read(argv[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise ReplyError("ERR The specified keys must contain string values")
    a = a or b""
    b = b or b""
    want_len = want_idx = with_match_len = False
    min_match_len = 0
    j = 3
    while j < len(argv):
        option = argv[j].upper()
        if option == b"IDX":
            want_idx = True
        elif option == b"LEN":
            want_len = True
        elif option == b"WITHMATCHLEN":
            with_match_len = True
        elif option == b"MINMATCHLEN" and j + 1 < len(argv):
            min_match_len = max(to_int(argv[j + 1]), 0)
            j += 1
        else:
            raise ReplyError(SYNTAX)
        j += 1
    if want_idx and want_len:
        raise ReplyError("ERR If you want both the length and indexes, please just use IDX.")
    if (len(a) + 1) * (len(b) + 1) * 4 > max_string_length(session):
        raise ReplyError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    table = CommonSubsequence(a, b)
    if want_len:
        return table.length
    text, ranges = table.walk(min_match_len)
    if not want_idx:
        return text
    matches: list[Any] = []
    for a_start, a_end, b_start, b_end in ranges:
        entry: list[Any] = [[a_start, a_end], [b_start, b_end]]
        if with_match_len:
            entry.append(a_end - a_start + 1)
        matches.append(entry)
    return map_reply(session.protocol, [b"matches", matches, b"len", table.length])

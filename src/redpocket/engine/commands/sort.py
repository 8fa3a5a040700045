"""SORT and SORT_RO: sort a list, set or sorted set, by itself or by external keys (Redis's sort.c)."""

from __future__ import annotations

import re
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

from ..args import to_int
from ..keyspace import type_name
from ..registry import define
from ..replies import SYNTAX, WRONGTYPE, ReplyError

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

NOT_DOUBLE: Final = "ERR One or more scores can't be converted into double"
_SPACE: Final = b" \t\n\v\f\r"
_DECIMAL: Final = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX: Final = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?")
_INF: Final = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)
_MANTISSA_END: Final = re.compile(rb"[eE]")
_NONZERO: Final = re.compile(rb"[1-9]")
_SMALLEST_NORMAL: Final = 2.2250738585072014e-308
_INFINITY: Final = float("inf")
_SKIP_ARGS: Final = {b"LIMIT": 2, b"GET": 1, b"BY": 1}


def strtod(value: bytes) -> float | None:
    """Parse ``value`` as SORT does (glibc ``strtod`` consuming the whole C string); ``None`` if it can't."""
    if value.isdigit() and len(value) < 300:
        return float(value)
    text = value.split(b"\0", 1)[0]
    if not text:
        return 0.0
    body = text.lstrip(_SPACE)
    if _DECIMAL.fullmatch(body):
        number = float(body)
        # glibc reports ERANGE on overflow, and on underflow to zero or a subnormal.
        if number in (_INFINITY, -_INFINITY):
            return None
        if abs(number) < _SMALLEST_NORMAL and _NONZERO.search(_MANTISSA_END.split(body, 1)[0]):
            return None
        return number
    if _INF.fullmatch(body):
        return -_INFINITY if body[:1] == b"-" else _INFINITY
    if _HEX.fullmatch(body):
        try:
            number = float.fromhex(body.decode())
        except OverflowError:
            return None
        if number != 0 and abs(number) < _SMALLEST_NORMAL:
            return None
        return number
    return None


def _c_string(value: bytes) -> bytes:
    """Return ``value`` up to its first NUL, as C string functions see it."""
    end = value.find(b"\0")
    return value if end < 0 else value[:end]


def lookup_by_pattern(db: Database, pattern: bytes, subst: bytes) -> bytes | None:
    """Return the string at ``pattern`` with its first ``*`` replaced by ``subst`` (``key*->field`` reads a hash field; ``#`` is ``subst``)."""
    if pattern[:1] == b"#" and (len(pattern) == 1 or pattern[1] == 0):
        return subst
    head = _c_string(pattern)
    star = head.find(b"*")
    if star < 0:
        return None
    arrow = head.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(head):
        field = pattern[arrow + 2 :]
        key = pattern[:star] + subst + pattern[star + 1 : arrow]
    else:
        key = pattern[:star] + subst + pattern[star + 1 :]
    value = db.lookup_read(key)
    if value is None:
        return None
    if field is not None:
        return value.get(field) if type(value) is dict else None
    return value if type(value) is bytes else None


def sort_keys(argv: list[bytes]) -> list[bytes]:
    """Return the keys of a SORT call: the sorted key and the last STORE destination (Redis's sortGetKeys)."""
    found = [argv[1]]
    store = None
    i = 2
    while i < len(argv):
        option = _c_string(argv[i]).upper()
        skip = _SKIP_ARGS.get(option)
        if skip is not None:
            i += skip
        elif option == b"STORE" and i + 1 < len(argv):
            store = argv[i + 1]
        i += 1
    if store is not None:
        found.append(store)
    return found


def _sort(session: Session, argv: list[bytes], readonly: bool) -> Any:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby = store = None
    gets: list[bytes] = []
    argc = len(argv)
    j = 2
    while j < argc:
        left = argc - j - 1
        option = _c_string(argv[j]).upper()  # strcasecmp stops at a NUL
        if option == b"ASC":
            desc = False
        elif option == b"DESC":
            desc = True
        elif option == b"ALPHA":
            alpha = True
        elif option == b"LIMIT" and left >= 2:
            limit_start = to_int(argv[j + 1])
            limit_count = to_int(argv[j + 2])
            j += 2
        elif option == b"STORE" and not readonly and left >= 1:
            store = argv[j + 1]
            j += 1
        elif option == b"BY" and left >= 1:
            sortby = argv[j + 1]
            # A BY pattern without '*' is constant: nothing to sort by (BY nosort).
            if b"*" not in _c_string(sortby):
                dontsort = True
            j += 1
        elif option == b"GET" and left >= 1:
            gets.append(argv[j + 1])
            j += 1
        else:
            raise ReplyError(SYNTAX)
        j += 1

    db = session.db
    value = db.lookup_read(argv[1])
    kind = "list" if value is None else type_name(value)
    if kind not in ("list", "set", "zset"):
        raise ReplyError(WRONGTYPE)
    if dontsort and kind == "set" and (store is not None or session.in_script):
        # An unsorted set has no stable order: replication and scripts need one.
        dontsort, alpha, sortby = False, True, None

    length = 0 if value is None else len(value)
    start = min(max(limit_start, 0), length)
    limit_count = min(max(limit_count, -1), length)
    end = length - 1 if limit_count < 0 else start + limit_count - 1
    if start >= length:
        start, end = length - 1, length - 2
    if end >= length:
        end = length - 1

    vector: list[bytes]
    if value is None:
        vector = []
    elif dontsort and kind != "set":
        # Lists and sorted sets keep their own order (reversed by DESC); LIMIT applies directly.
        if end < start:
            vector = []
        else:
            members = value if kind == "list" else (member for member, _score in value)
            if desc:
                members = reversed(value) if kind == "list" else reversed([member for member, _score in value])
            vector = list(islice(members, start, end + 1))
            start, end = 0, len(vector) - 1
    elif kind == "zset":
        vector = [member for member, _score in value]
    else:
        vector = list(value)

    if not dontsort:
        vector = _sorted(db, vector, sortby, alpha, desc, store is not None)

    selected = vector[start : end + 1] if end >= start else []
    if gets:
        output: list[bytes | None] = [lookup_by_pattern(db, pattern, element) for element in selected for pattern in gets]
    else:
        output = selected  # type: ignore[assignment]
    if store is None:
        return output
    if output:
        db.set(store, deque(b"" if item is None else item for item in output))
        db.notify("l", b"sortstore", store)
    elif db.delete(store):
        db.notify("g", b"del", store)
    return len(output)


def _sorted(db: Database, vector: list[bytes], sortby: bytes | None, alpha: bool, desc: bool, storing: bool) -> list[bytes]:
    """Sort ``vector`` as Redis's sortCompare does (a stable merge sort, as glibc's qsort)."""
    if alpha:
        # Without STORE Redis compares with strcoll (C.UTF-8: byte order up to a NUL); with STORE, binary.
        collate = (lambda item: item) if storing else _c_string
        if sortby is None:
            return sorted(vector, key=collate, reverse=desc)
        weights = [lookup_by_pattern(db, sortby, element) for element in vector]
        keyed = [((0, b"") if weight is None else (1, collate(weight)), element) for weight, element in zip(weights, vector, strict=True)]
        keyed.sort(key=lambda pair: pair[0], reverse=desc)
        return [element for _weight, element in keyed]
    scores: list[tuple[float, bytes]] = []
    failed = False
    for element in vector:
        weight = element if sortby is None else lookup_by_pattern(db, sortby, element)
        if weight is None:  # a missing BY key weighs 0
            scores.append((0.0, element))
            continue
        score = strtod(weight)
        if score is None:
            failed = True
            score = 0.0
        scores.append((score, element))
    if failed:
        raise ReplyError(NOT_DOUBLE)
    # Equal scores fall back to comparing the elements, so the order is total.
    scores.sort(reverse=desc)
    return [element for _score, element in scores]


@define("sort", -2, "write denyoom movablekeys", 1, 1, 1, keys=sort_keys, group="generic")
def sort(session: Session, argv: list[bytes]) -> Any:
    """SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]"""
    return _sort(session, argv, False)


@define("sort_ro", -2, "readonly movablekeys", 1, 1, 1, group="generic", since="7.0.0")
def sort_ro(session: Session, argv: list[bytes]) -> Any:
    """SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA]"""
    return _sort(session, argv, True)

"""HyperLogLog commands: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.

An HLL is a string value in Redis's own encoding (see
:mod:`redpocket.engine.types.hyperloglog`), so the string commands see the
same bytes Redis would hold.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..registry import define
from ..replies import OK, WRONGTYPE, ReplyError, SimpleString
from ..types.hyperloglog import (
    DENSE,
    REGISTERS,
    HyperLogLog,
    cached_cardinality,
    estimate,
    histogram,
    is_hll,
    load,
    max_registers,
    pattern,
    peek,
    remember,
    sparse_registers,
    unpack_dense,
)

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
CORRUPTED = "INVALIDOBJ Corrupted HLL object detected"


def _check(value: Any) -> None:
    """Raise Redis's errors for a value that is not a string, or not an HLL string."""
    if type(value) is not bytes:
        raise ReplyError(WRONGTYPE)
    if not is_hll(value):
        raise ReplyError(NOT_HLL)


def _max_bytes(session: Session) -> int:
    """Return ``hll-sparse-max-bytes``."""
    return session.engine.config.get_int("hll-sparse-max-bytes")


def _store(db: Database, key: bytes, hll: HyperLogLog, created: bool) -> None:
    """Store the HLL's bytes at ``key`` (keeping its TTL) and cache its working form."""
    value = hll.to_bytes()
    remember(value, hll)
    if created:
        db.add(key, value, encoding="raw")
    else:
        db.set(key, value, keep_ttl=True, encoding="raw")


def _merge(db: Database, keys: list[bytes]) -> tuple[bytearray, bool]:
    """Return the register-wise maximum of the HLLs at ``keys`` and whether any is dense."""
    merged = 0
    use_dense = False
    for key in keys:
        value = db.lookup_read(key)
        if value is None:
            continue
        _check(value)
        if value[4] == DENSE:
            use_dense = True
            raw = unpack_dense(value)
        else:
            decoded = sparse_registers(value, _tail(value))
            if decoded is None:
                raise ReplyError(CORRUPTED)
            raw = decoded
        registers = int.from_bytes(raw, "little")
        merged = max_registers(merged, registers) if merged else registers
    return bytearray(merged.to_bytes(REGISTERS, "little")), use_dense


def _tail(value: bytes) -> int:
    """Return the byte Redis holds after the end of a sparse HLL string (see ``HyperLogLog.tail``)."""
    hll = peek(value)
    return hll.tail if hll is not None else 0


@define("pfadd", -2, "write denyoom fast", 1, 1, 1, group="hyperloglog", since="2.8.9")
def pfadd(session: Session, argv: list[bytes]) -> Any:
    """PFADD key [element [element ...]]"""
    db = session.db
    key = argv[1]
    value = db.lookup_write(key)
    if value is None:
        hll = HyperLogLog.empty()
        updated = True
    else:
        _check(value)
        hll = load(value)
        updated = False
    hll.max_bytes = _max_bytes(session)
    add = hll.add
    for element in argv[2:]:
        result = add(element)
        if result == 1:
            updated = True
        elif result < 0:
            # Redis keeps the registers already raised in place.
            if updated:
                _store(db, key, hll, False)
            else:
                remember(value, hll)
            raise ReplyError(CORRUPTED)
    if not updated:
        remember(value, hll)
        return 0
    hll.invalidate_cache()
    _store(db, key, hll, value is None)
    db.notify("$", b"pfadd", key)
    return 1


@define("pfcount", -2, "readonly", 1, -1, 1, group="hyperloglog", since="2.8.9")
def pfcount(session: Session, argv: list[bytes]) -> Any:
    """PFCOUNT key [key ...]"""
    db = session.db
    if len(argv) > 2:
        raw, _ = _merge(db, argv[1:])
        return estimate(histogram(raw))
    key = argv[1]
    value = db.lookup_read(key)
    if value is None:
        return 0
    _check(value)
    card = cached_cardinality(value)
    if card is not None:
        return card
    hll = load(value)
    card = hll.cardinality()
    if card is None:
        remember(value, hll)
        raise ReplyError(CORRUPTED)
    # The cached cardinality is part of the string: PFCOUNT writes it back.
    hll.store_cardinality(card)
    _store(db, key, hll, False)
    return card


@define("pfmerge", -2, "write denyoom", 1, -1, 1, group="hyperloglog", since="2.8.9")
def pfmerge(session: Session, argv: list[bytes]) -> Any:
    """PFMERGE destkey [sourcekey [sourcekey ...]]"""
    db = session.db
    raw, use_dense = _merge(db, argv[1:])
    key = argv[1]
    value = db.lookup_write(key)
    hll = HyperLogLog.empty() if value is None else load(value)
    hll.max_bytes = _max_bytes(session)
    if use_dense and not hll.to_dense():  # cannot happen: the merge validated the key
        raise ReplyError(CORRUPTED)
    hll.merge_from(raw)
    hll.invalidate_cache()
    _store(db, key, hll, value is None)
    db.notify("$", b"pfadd", key)
    return OK


@define("pfdebug", 3, "write denyoom admin", 2, 2, 1, group="hyperloglog", since="2.8.9")
def pfdebug(session: Session, argv: list[bytes]) -> Any:
    """PFDEBUG subcommand key"""
    db = session.db
    key = argv[2]
    value = db.lookup_write(key)
    if value is None:
        raise ReplyError("ERR The specified key does not exist")
    _check(value)
    sub = argv[1].lower()
    hll = load(value)
    if sub == b"getreg" or sub == b"todense":
        converted = hll.is_sparse
        if converted:
            if not hll.to_dense():
                remember(value, hll)
                raise ReplyError(CORRUPTED)
            _store(db, key, hll, False)
        else:
            remember(value, hll)
        if sub == b"todense":
            return int(converted)
        return list(unpack_dense(hll.data))
    remember(value, hll)
    if sub == b"decode":
        if not hll.is_sparse:
            raise ReplyError("ERR HLL encoding is not sparse")
        return hll.decode_sparse_text()
    if sub == b"encoding":
        return SimpleString(b"sparse" if hll.is_sparse else b"dense")
    raise ReplyError(f"ERR Unknown PFDEBUG subcommand '{argv[1].decode('utf-8', 'replace')}'")


@define("pfselftest", 1, "admin", group="hyperloglog", since="2.8.9")
def pfselftest(session: Session, argv: list[bytes]) -> Any:
    """PFSELFTEST"""
    rng = random.Random()
    for _ in range(3):
        expected = bytearray(rng.getrandbits(6) for _ in range(REGISTERS))
        hll = HyperLogLog.empty()
        hll.set_dense(bytearray(REGISTERS))
        for index, register in enumerate(expected):
            if register:
                hll.set_register(index, register)
        got = unpack_dense(hll.data)
        if got != expected:
            index = next(i for i in range(REGISTERS) if got[i] != expected[i])
            raise ReplyError(f"ERR TESTFAILED Register {index} should be {expected[index]} but is {got[index]}")
    sparse = HyperLogLog.empty()
    dense = HyperLogLog.empty()
    dense.to_dense()
    seed = rng.getrandbits(64)
    for j in range(1, 2001):
        element = (j ^ seed).to_bytes(8, "little")
        index, count = pattern(element)
        sparse.set_register(index, count)
        dense.set_register(index, count)
        if j % 100 == 0 and sparse.cardinality() != dense.cardinality():
            raise ReplyError("ERR TESTFAILED dense/sparse disagree")
    return OK

"""Bitmap commands on both backends, and differential runs against redis-server."""

from __future__ import annotations

import random

import pytest
import redis
from tests.helpers import differential, error_of

from redpocket.engine.types.strings import bit_count, bit_operation, bit_position, get_bitfield

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "value is not an integer or out of range"
SYNTAX = "syntax error"
BIT_OFFSET = "bit offset is not an integer or out of range"
BIT_VALUE = "bit is not an integer or out of range"
BAD_TYPE = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."


# -- SETBIT / GETBIT ------------------------------------------------------------------------


def test_setbit_getbit(r: redis.Redis) -> None:
    assert r.setbit("k", 7, 1) == 0
    assert r.get("k") == b"\x01"
    assert r.setbit("k", 7, 1) == 1
    assert r.setbit("k", 0, 1) == 0
    assert r.get("k") == b"\x81"
    assert r.setbit("k", 7, 0) == 1
    assert r.get("k") == b"\x80"
    assert r.setbit("k", 23, 0) == 0
    assert r.get("k") == b"\x80\x00\x00"
    assert [r.getbit("k", i) for i in (0, 1, 7, 23, 24, 1000)] == [1, 0, 0, 0, 0, 0]
    assert r.getbit("missing", 5) == 0
    r.set("s", "a")  # 0x61
    assert [r.getbit("s", i) for i in range(8)] == [0, 1, 1, 0, 0, 0, 0, 1]
    r.expire("s", 100)
    assert r.setbit("s", 6, 1) == 0
    assert r.get("s") == b"c"
    assert r.ttl("s") > 0


def test_setbit_errors(r: redis.Redis) -> None:
    assert error_of(r, "SETBIT", "k", "-1", "1") == BIT_OFFSET
    assert error_of(r, "SETBIT", "k", "x", "1") == BIT_OFFSET
    assert error_of(r, "SETBIT", "k", "4294967296", "1") == BIT_OFFSET
    assert error_of(r, "GETBIT", "k", "4294967296") == BIT_OFFSET
    assert error_of(r, "GETBIT", "k", "1.0") == BIT_OFFSET
    assert error_of(r, "SETBIT", "k", "1", "2") == BIT_VALUE
    assert error_of(r, "SETBIT", "k", "1", "-1") == BIT_VALUE
    assert error_of(r, "SETBIT", "k", "1", "x") == BIT_VALUE
    assert r.exists("k") == 0
    r.hset("h", "f", "v")
    assert error_of(r, "SETBIT", "h", "1", "1") == WRONGTYPE
    assert error_of(r, "GETBIT", "h", "1") == WRONGTYPE
    # Offsets are checked before the type.
    assert error_of(r, "GETBIT", "h", "-1") == BIT_OFFSET


def test_setbit_at_the_size_limit(r: redis.Redis) -> None:
    # The largest legal offset is accepted for GETBIT without allocating.
    assert r.getbit("k", 4294967295) == 0


# -- BITCOUNT -----------------------------------------------------------------------------


def test_bitcount(r: redis.Redis) -> None:
    r.set("k", "foobar")
    assert r.bitcount("k") == 26
    assert r.bitcount("k", 0, 0) == 4
    assert r.bitcount("k", 1, 1) == 6
    assert r.bitcount("k", -2, -1) == 7
    assert r.bitcount("k", 5, 30) == 4
    assert r.bitcount("k", 3, 1) == 0
    assert r.bitcount("k", -1, -3) == 0
    assert r.bitcount("k", -100, -200) == 0
    assert r.bitcount("k", -200, -100) == 4  # both clamp to byte 0
    assert r.bitcount("k", 1, 1, "BYTE") == 6
    assert r.bitcount("k", 5, 30, "BIT") == 17
    assert r.bitcount("k", 0, 0, "bit") == 0
    assert r.bitcount("k", 1, 1, "BIT") == 1
    assert r.bitcount("k", -3, -1, "BIT") == 1
    assert r.bitcount("missing") == 0
    r.set("empty", "")
    assert r.bitcount("empty", 0, -1) == 0


def test_bitcount_errors(r: redis.Redis) -> None:
    r.set("k", "foobar")
    assert error_of(r, "BITCOUNT", "k", "0") == SYNTAX
    assert error_of(r, "BITCOUNT", "k", "0", "1", "BIT", "x") == SYNTAX
    assert error_of(r, "BITCOUNT", "k", "0", "1", "BITS") == SYNTAX
    assert error_of(r, "BITCOUNT", "k", "a", "1") == NOT_INTEGER
    assert error_of(r, "BITCOUNT", "k", "0", "b", "FOO") == NOT_INTEGER
    # Redis 7.0 looks the key up first: a missing key answers 0 whatever follows.
    assert r.execute_command("BITCOUNT", "missing", "a", "b") == 0
    assert r.execute_command("BITCOUNT", "missing", "0") == 0
    assert r.execute_command("BITCOUNT", "k", "-1", "-3", "NOPE") == 0  # the empty range wins over the unit
    r.hset("h", "f", "v")
    assert error_of(r, "BITCOUNT", "h") == WRONGTYPE
    assert error_of(r, "BITCOUNT", "h", "x", "y") == WRONGTYPE


# -- BITPOS --------------------------------------------------------------------------------


def test_bitpos(r: redis.Redis) -> None:
    r.set("k", b"\xff\xf0\x00")
    assert r.bitpos("k", 0) == 12
    assert r.bitpos("k", 1) == 0
    assert r.bitpos("k", 1, 2) == -1
    assert r.bitpos("k", 0, 2) == 16
    assert r.bitpos("k", 1, 1, -1) == 8
    r.set("ones", b"\xff\xff")
    assert r.bitpos("ones", 0) == 16
    assert r.bitpos("ones", 0, 0) == 16
    assert r.bitpos("ones", 0, 0, -1) == -1
    assert r.bitpos("ones", 0, 3, 5, "BIT") == -1
    r.set("b", b"\x00\xff\xf0")
    assert r.bitpos("b", 1, 7, 15, "bit") == 8
    assert r.bitpos("b", 0, 8, -1, "BIT") == 20
    assert r.bitpos("b", 1, 2, 7, "BIT") == -1
    assert r.bitpos("b", 1, -5, -1, "BIT") == 19
    assert r.bitpos("b", 1, -4, -1, "BIT") == -1
    assert r.bitpos("b", 0, 9, 10, "BIT") == -1
    assert r.bitpos("b", 1, 0, 0, "BYTE") == -1
    assert r.bitpos("b", 1, 5, 2) == -1
    assert r.bitpos("b", 1, -100, -200) == -1  # both clamp to 0: byte 0 has no set bit
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    r.set("empty", "")
    assert r.bitpos("empty", 0) == -1
    assert r.bitpos("empty", 1) == -1


def test_bitpos_errors(r: redis.Redis) -> None:
    r.set("k", "foobar")
    assert error_of(r, "BITPOS", "k", "2") == "The bit argument must be 1 or 0."
    assert error_of(r, "BITPOS", "missing", "x") == NOT_INTEGER
    assert error_of(r, "BITPOS", "k", "1", "x") == NOT_INTEGER
    assert error_of(r, "BITPOS", "k", "1", "0", "x") == NOT_INTEGER
    assert error_of(r, "BITPOS", "k", "1", "0", "x", "FOO") == SYNTAX
    assert error_of(r, "BITPOS", "k", "1", "0", "1", "BIT", "x") == SYNTAX
    assert r.execute_command("BITPOS", "missing", "1", "x", "y", "z", "w") == -1
    r.hset("h", "f", "v")
    assert error_of(r, "BITPOS", "h", "1") == WRONGTYPE
    assert error_of(r, "BITPOS", "h", "3") == "The bit argument must be 1 or 0."


# -- BITOP -----------------------------------------------------------------------------------


def test_bitop(r: redis.Redis) -> None:
    r.set("a", b"\xf0\x0f")
    r.set("b", b"\xff")
    assert r.bitop("AND", "d", "a", "b") == 2
    assert r.get("d") == b"\xf0\x00"
    assert r.bitop("or", "d", "a", "b") == 2
    assert r.get("d") == b"\xff\x0f"
    assert r.bitop("XOR", "d", "a", "b", "a") == 2
    assert r.get("d") == b"\xff\x00"
    assert r.bitop("NOT", "d", "a") == 2
    assert r.get("d") == b"\x0f\xf0"
    assert r.bitop("AND", "d", "a", "missing") == 2
    assert r.get("d") == b"\x00\x00"
    r.expire("d", 100)
    assert r.bitop("OR", "d", "a") == 2
    assert r.ttl("d") == -1
    # An empty result deletes the destination, whatever its type.
    r.hset("h", "f", "v")
    assert r.bitop("OR", "h", "missing", "missing2") == 0
    assert r.exists("h") == 0
    r.set("empty", "")
    assert r.bitop("NOT", "d", "empty") == 0
    assert r.exists("d") == 0
    r.hset("h", "f", "v")
    assert r.bitop("NOT", "h", "a") == 2
    assert r.get("h") == b"\x0f\xf0"


def test_bitop_errors(r: redis.Redis) -> None:
    r.set("a", "x")
    assert error_of(r, "BITOP", "NAND", "d", "a") == SYNTAX
    assert error_of(r, "BITOP", "NOT", "d", "a", "b") == "BITOP NOT must be called with a single source key."
    assert error_of(r, "BITOP", "AND", "d") == "wrong number of arguments for 'bitop' command"
    r.hset("h", "f", "v")
    assert error_of(r, "BITOP", "AND", "d", "a", "h") == WRONGTYPE
    assert r.exists("d") == 0


# -- BITFIELD ----------------------------------------------------------------------------------


def test_bitfield_get_set_incrby(r: redis.Redis) -> None:
    assert r.execute_command("BITFIELD", "k", "SET", "i8", "0", "-100", "GET", "i8", "0", "GET", "u8", "0") == [0, -100, 156]
    assert r.get("k") == b"\x9c"
    assert r.execute_command("BITFIELD", "k", "INCRBY", "u4", "4", "3", "GET", "u4", "4") == [15, 15]
    assert r.execute_command("BITFIELD", "k", "SET", "u16", "#1", "65535") == [0]
    assert r.get("k") == b"\x9f\x00\xff\xff"
    assert r.execute_command("BITFIELD", "k", "GET", "i64", "0", "GET", "u63", "1", "GET", "i5", "100") == [
        -6989305150997266432, 2234066885857509376, 0]
    assert r.execute_command("BITFIELD", "k") == []
    assert r.execute_command("BITFIELD", "missing", "GET", "u8", "0") == [0]
    assert r.exists("missing") == 0
    assert r.execute_command("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i4", "#1") == [159, -1]


def test_bitfield_overflow(r: redis.Redis) -> None:
    cmd = ("BITFIELD", "k")
    assert r.execute_command(*cmd, "INCRBY", "u2", "0", "5") == [1]
    assert r.execute_command(*cmd, "OVERFLOW", "SAT", "INCRBY", "u2", "0", "5", "INCRBY", "u2", "0", "-9") == [3, 0]
    assert r.execute_command(*cmd, "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5", "GET", "u2", "0") == [None, 0]
    assert r.execute_command(*cmd, "OVERFLOW", "fail", "SET", "i4", "0", "8", "SET", "i4", "0", "7") == [None, 0]
    assert r.execute_command(*cmd, "overflow", "wrap", "INCRBY", "i4", "0", "1") == [-8]
    assert r.execute_command(*cmd, "OVERFLOW", "SAT", "INCRBY", "i4", "0", "-100", "INCRBY", "i4", "0", "100") == [-8, 7]
    assert r.execute_command(*cmd, "OVERFLOW", "SAT", "SET", "u8", "8", "-1", "GET", "u8", "8") == [0, 255]
    assert r.execute_command(*cmd, "SET", "u8", "8", "-1", "SET", "u8", "8", "300") == [255, 255]
    assert r.execute_command(*cmd, "GET", "u8", "8") == [44]
    old = r.execute_command(*cmd, "GET", "i64", "0")[0]
    assert r.execute_command(*cmd, "SET", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1") == [
        old, -9223372036854775808]
    assert r.execute_command(*cmd, "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-1") == [-9223372036854775808]
    assert r.execute_command("BITFIELD", "z", "OVERFLOW", "FAIL", "INCRBY", "u63", "0", "-1") == [None]
    # The key is created (zero-filled) even when every write fails.
    assert r.execute_command("BITFIELD", "new", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "5") == [None]
    assert r.strlen("new") == 13


def test_bitfield_errors(r: redis.Redis) -> None:
    r.set("k", "v")
    for kind in ("I8", "u64", "i65", "i0", "u0", "x8", "i", "i08", "8", "u-1"):
        assert error_of(r, "BITFIELD", "k", "GET", kind, "0") == BAD_TYPE, kind
    assert error_of(r, "BITFIELD", "k", "GET", "i8", "-1") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "k", "GET", "i8", "#-1") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "k", "GET", "i8", "x") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "k", "GET", "i8", "4294967296") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "k", "GET", "i8", "#536870912") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "k", "SET", "i8", "#9223372036854775807", "1") == BIT_OFFSET
    assert error_of(r, "BITFIELD", "k", "GET", "i8") == SYNTAX
    assert error_of(r, "BITFIELD", "k", "SET", "i8", "0") == SYNTAX
    assert error_of(r, "BITFIELD", "k", "FOO") == SYNTAX
    assert error_of(r, "BITFIELD", "k", "OVERFLOW") == SYNTAX
    assert error_of(r, "BITFIELD", "k", "OVERFLOW", "BAD") == "Invalid OVERFLOW type specified"
    assert error_of(r, "BITFIELD", "k", "SET", "i8", "0", "x") == NOT_INTEGER
    assert error_of(r, "BITFIELD", "k", "INCRBY", "i8", "0", "1.5") == NOT_INTEGER
    # Parsing errors stop everything: nothing is written.
    assert error_of(r, "BITFIELD", "k", "SET", "i8", "0", "1", "GET", "x", "0") == BAD_TYPE
    assert r.get("k") == b"v"
    assert error_of(r, "BITFIELD_RO", "k", "SET", "i8", "0", "1") == "BITFIELD_RO only supports the GET subcommand"
    assert error_of(r, "BITFIELD_RO", "k", "INCRBY", "i8", "0", "x") == NOT_INTEGER
    assert r.execute_command("BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "i8", "0") == [118]
    r.hset("h", "f", "v")
    assert error_of(r, "BITFIELD", "h", "GET", "i8", "0") == WRONGTYPE
    assert error_of(r, "BITFIELD", "h", "SET", "i8", "0", "1") == WRONGTYPE
    assert error_of(r, "BITFIELD", "h") == WRONGTYPE
    assert error_of(r, "BITFIELD_RO", "h", "GET", "i8", "0") == WRONGTYPE


def test_bitfield_keeps_ttl(r: redis.Redis) -> None:
    r.set("k", "abc", ex=100)
    r.execute_command("BITFIELD", "k", "SET", "u8", "0", "65")
    assert r.get("k") == b"Abc"
    assert r.ttl("k") > 0


# -- helpers -----------------------------------------------------------------------------------


def test_helpers_directly() -> None:
    assert bit_count(b"\xff\x01") == 9
    assert bit_position(b"\x00\x10", 1) == 11
    assert bit_operation(0, [b"\xff\x0f", b"\xf0"]) == b"\xf0\x00"
    assert get_bitfield(b"\x80", 0, 1, True) == -1


# -- differential -------------------------------------------------------------------------------

VALUES = [b"", b"\x00", b"\xff", b"\x00\xff", b"\xff\x00", b"foobar", b"\x0f\xf0\x55", b"\xff\xff\xff\xfe",
          b"\x00\x00\x01", b"\x80" + b"\x00" * 10 + b"\x01"]
INDEXES = [b"0", b"1", b"2", b"3", b"7", b"8", b"9", b"15", b"17", b"-1", b"-2", b"-3", b"-8", b"-9", b"-17", b"-100",
           b"100", b"x", b"9223372036854775807", b"-9223372036854775808"]


def random_command(rng: random.Random) -> list[bytes]:
    key = rng.choice([b"b1", b"b2", b"\xffbin", b"hash", b"missing"])
    index = rng.choice
    unit = rng.choice([[], [b"BYTE"], [b"BIT"], [b"bit"], [b"BITS"]])
    kind = rng.choice([b"i1", b"u1", b"i3", b"u7", b"i8", b"u8", b"i13", b"u16", b"i32", b"u63", b"i64", b"u64", b"x"])
    offset = rng.choice([b"0", b"1", b"5", b"7", b"8", b"13", b"31", b"#0", b"#1", b"#3", b"-1", b"x", b"100"])
    number = rng.choice([b"0", b"1", b"-1", b"5", b"100", b"-100", b"127", b"128", b"255", b"256", b"-129",
                         b"9223372036854775807", b"-9223372036854775808", b"x"])
    overflow = rng.choice([[], [b"OVERFLOW", b"WRAP"], [b"OVERFLOW", b"SAT"], [b"OVERFLOW", b"FAIL"]])
    options = [
        [b"SET", key, rng.choice(VALUES)],
        [b"SETBIT", key, rng.choice([b"0", b"1", b"7", b"8", b"30", b"-1", b"x"]), rng.choice([b"0", b"1", b"2"])],
        [b"GETBIT", key, rng.choice([b"0", b"1", b"7", b"8", b"30", b"-1", b"x"])],
        [b"BITCOUNT", key], [b"BITCOUNT", key, index(INDEXES)],
        [b"BITCOUNT", key, index(INDEXES), index(INDEXES), *unit],
        [b"BITPOS", key, rng.choice([b"0", b"1", b"2"])],
        [b"BITPOS", key, rng.choice([b"0", b"1"]), index(INDEXES)],
        [b"BITPOS", key, rng.choice([b"0", b"1"]), index(INDEXES), index(INDEXES), *unit],
        [b"BITOP", rng.choice([b"AND", b"OR", b"XOR", b"NOT", b"nand"]), rng.choice([b"b1", b"b2", b"dest"]), key,
         *rng.choice([[], [b"b2"], [b"b1", b"missing"]])],
        [b"BITFIELD", key, *overflow, rng.choice([b"GET", b"SET", b"INCRBY", b"FOO"]), kind, offset, number],
        [b"BITFIELD", key, b"GET", kind, offset, *overflow, b"INCRBY", kind, offset, number, b"GET", kind, offset],
        [b"BITFIELD_RO", key, b"GET", kind, offset, *rng.choice([[], [b"SET", kind, offset, number]])],
        [b"GET", key], [b"HSET", b"hash", b"f", b"v"], [b"EXPIRE", key, b"100"], [b"TTL", key],
    ]
    return rng.choice(options)


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential_bits(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    embedded.response_callbacks.clear()
    real.response_callbacks.clear()
    rng = random.Random(99 + protocol)
    assert differential(embedded, real, (random_command(rng) for _ in range(3000))) == 3000


def test_bitpos_bitcount_exhaustive(pair) -> None:
    """Every range over a few strings, in both units, against the real server."""
    embedded, real = pair()
    for value in (b"\x00\xff\x0f", b"\xf0\x00", b"\xff\xff\xff"):
        embedded.set("k", value)
        real.set("k", value)
        size = len(value) * 8
        bounds = [str(i) for i in range(-size - 2, size + 2, 3)]
        pipe_real = real.pipeline(transaction=False)
        commands = []
        for start in bounds:
            for end in bounds:
                for unit in ("BYTE", "BIT"):
                    commands.append(("BITCOUNT", "k", start, end, unit))
                    for bit in ("0", "1"):
                        commands.append(("BITPOS", "k", bit, start, end, unit))
                for bit in ("0", "1"):
                    commands.append(("BITPOS", "k", bit, start))
        for command in commands:
            pipe_real.execute_command(*command)
        expected = pipe_real.execute()
        for command, want in zip(commands, expected, strict=True):
            assert embedded.execute_command(*command) == want, (value, command)

"""Property-based differential test: random command sequences, embedded engine vs redis-server.

Hypothesis draws sequences of commands over every command family (valid and
invalid arguments, wrong types, expiry) and sends each sequence to the
embedded engine and to a real redis-server; every reply must be equal.  Only
replies whose order Redis leaves to its hash tables are compared as sorted
lists, and commands whose replies are random by design are left out (they
are tested by their properties in the family tests).

``REDPOCKET_DIFF_EXAMPLES`` sets the number of sequences per protocol (default 1000).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("REDPOCKET_DIFF_EXAMPLES", "1000"))

KEYS = [b"k1", b"k2", b"k3", b"\xffbin"]
key = st.sampled_from(KEYS)
value = st.sampled_from(
    [b"", b"0", b"1", b"-1", b"7", b"10", b"3.5", b"-2.25", b"abc", b"hello world", b"\xff\x00",
     b"9223372036854775807", b"-9223372036854775808", b"1e3", b" 1", b"inf", b"01", b"a" * 70]
)
integer = st.sampled_from([b"0", b"1", b"-1", b"2", b"3", b"5", b"-3", b"100", b"x", b"1.5", b"9223372036854775807", b"-9223372036854775809"])
index = st.sampled_from([b"0", b"1", b"2", b"-1", b"-2", b"-100", b"100", b"a"])
number = st.sampled_from([b"0", b"1", b"-1", b"1.5", b"2.5", b"-0.5", b"10", b"1e2", b"inf", b"-inf", b"+inf", b"nan", b"x", b"(1", b"(2.5"])
field = st.sampled_from([b"f1", b"f2", b"f3", b"\xfe"])
member = st.sampled_from([b"a", b"b", b"c", b"d", b"1", b"2", b"10", b"\xfe"])
lex = st.sampled_from([b"-", b"+", b"[a", b"(a", b"[c", b"(d", b"a", b"[\xfe"])
pattern = st.sampled_from([b"*", b"k*", b"k?", b"k[12]", b"k[^1]*", b"*bin", b"\\k1", b"[a-z]*"])
expire_option = st.sampled_from([[], [b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"NX", b"XX"], [b"GT", b"LT"], [b"XY"]])


def cmd(*parts: Any) -> st.SearchStrategy[list[bytes]]:
    """Build a strategy for one command from fixed words and strategies."""
    strategies = [st.just([p]) if isinstance(p, bytes) else p.map(lambda v: v if isinstance(v, list) else [v]) for p in parts]
    return st.tuples(*strategies).map(lambda chunks: [arg for chunk in chunks for arg in chunk])


def opt(*choices: list[bytes]) -> st.SearchStrategy[list[bytes]]:
    """An optional group of arguments: one of ``choices`` or nothing."""
    return st.sampled_from([[], *choices])


STRINGS = [
    cmd(b"SET", key, value, opt([b"NX"], [b"XX"], [b"GET"], [b"EX", b"100"], [b"PX", b"100000"], [b"EX", b"0"], [b"EX", b"-1"], [b"KEEPTTL"], [b"NX", b"XX"], [b"EX", b"x"])),
    cmd(b"GET", key), cmd(b"GETSET", key, value), cmd(b"GETDEL", key), cmd(b"GETEX", key, opt([b"PERSIST"], [b"EX", b"100"])),
    cmd(b"MGET", key, key), cmd(b"MSET", key, value, key, value), cmd(b"MSETNX", key, value),
    cmd(b"SETNX", key, value), cmd(b"SETEX", key, integer, value), cmd(b"APPEND", key, value), cmd(b"STRLEN", key),
    cmd(b"INCR", key), cmd(b"DECR", key), cmd(b"INCRBY", key, integer), cmd(b"DECRBY", key, integer),
    cmd(b"INCRBYFLOAT", key, number), cmd(b"GETRANGE", key, index, index), cmd(b"SETRANGE", key, integer, value),
    cmd(b"SETBIT", key, integer, st.sampled_from([b"0", b"1", b"2"])), cmd(b"GETBIT", key, integer),
    cmd(b"BITCOUNT", key, opt([b"0", b"-1"], [b"1", b"2", b"BIT"], [b"0"])), cmd(b"BITPOS", key, st.sampled_from([b"0", b"1"]), opt([b"1"], [b"0", b"-1", b"BIT"])),
    cmd(b"BITOP", st.sampled_from([b"AND", b"OR", b"XOR", b"NOT", b"NAND"]), key, key, opt([b"k3"])),
    cmd(b"LCS", key, key, opt([b"LEN"], [b"IDX"], [b"IDX", b"MINMATCHLEN", b"2", b"WITHMATCHLEN"])),
    cmd(b"BITFIELD", key, st.sampled_from([[b"GET", b"u8", b"0"], [b"SET", b"i5", b"3", b"7"], [b"INCRBY", b"u4", b"2", b"9"],
                                           [b"OVERFLOW", b"FAIL", b"INCRBY", b"u2", b"0", b"5"], [b"GET", b"x9", b"0"]])),
    cmd(b"SUBSTR", key, index, index),
]
KEYSPACE = [
    cmd(b"DEL", key, opt([b"k2"])), cmd(b"EXISTS", key, key), cmd(b"TYPE", key), cmd(b"RENAME", key, key), cmd(b"RENAMENX", key, key),
    cmd(b"COPY", key, key, opt([b"REPLACE"], [b"DB", b"0"])), cmd(b"TOUCH", key), cmd(b"UNLINK", key),
    cmd(b"EXPIRE", key, st.sampled_from([b"100", b"200", b"0", b"-5", b"x"]), expire_option),
    cmd(b"PEXPIRE", key, st.sampled_from([b"100000", b"-1"]), expire_option), cmd(b"PERSIST", key),
    cmd(b"EXPIREAT", key, st.sampled_from([b"1", b"99999999999"])),
    cmd(b"EXPIRETIME", key), cmd(b"TTL", key), cmd(b"DBSIZE"), cmd(b"KEYS", pattern), cmd(b"MOVE", key, b"1"),
    cmd(b"SORT", key, opt([b"ALPHA"], [b"DESC", b"ALPHA"], [b"LIMIT", b"0", b"2"], [b"DESC"])),
    cmd(b"OBJECT", b"ENCODING", key),
]
HASHES = [
    cmd(b"HSET", key, field, value, opt([b"f2", b"x"])), cmd(b"HSETNX", key, field, value), cmd(b"HGET", key, field),
    cmd(b"HMGET", key, field, field), cmd(b"HGETALL", key), cmd(b"HDEL", key, field), cmd(b"HEXISTS", key, field),
    cmd(b"HLEN", key), cmd(b"HKEYS", key), cmd(b"HVALS", key), cmd(b"HINCRBY", key, field, integer),
    cmd(b"HINCRBYFLOAT", key, field, number), cmd(b"HSTRLEN", key, field),
]
LISTS = [
    cmd(st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), key, member, opt([b"b"])),
    cmd(st.sampled_from([b"LPOP", b"RPOP"]), key, opt([b"2"], [b"0"], [b"-1"])), cmd(b"LLEN", key),
    cmd(b"LRANGE", key, index, index), cmd(b"LINDEX", key, index), cmd(b"LSET", key, index, member),
    cmd(b"LINSERT", key, st.sampled_from([b"BEFORE", b"AFTER", b"MIDDLE"]), member, member),
    cmd(b"LREM", key, index, member), cmd(b"LTRIM", key, index, index),
    cmd(b"LPOS", key, member, opt([b"RANK", b"-1"], [b"COUNT", b"0"], [b"RANK", b"0"], [b"MAXLEN", b"2"])),
    cmd(b"LMOVE", key, key, st.sampled_from([b"LEFT", b"RIGHT"]), st.sampled_from([b"LEFT", b"RIGHT", b"UP"])),
    cmd(b"RPOPLPUSH", key, key), cmd(b"LMPOP", st.sampled_from([b"1", b"2", b"0"]), key, key, st.sampled_from([b"LEFT", b"RIGHT"]), opt([b"COUNT", b"2"])),
    cmd(b"BLPOP", key, b"0.01"),
]
SETS = [
    cmd(b"SADD", key, member, opt([b"b"], [b"1"])), cmd(b"SREM", key, member), cmd(b"SMEMBERS", key), cmd(b"SISMEMBER", key, member),
    cmd(b"SMISMEMBER", key, member, member), cmd(b"SCARD", key), cmd(b"SMOVE", key, key, member),
    cmd(st.sampled_from([b"SINTER", b"SUNION", b"SDIFF"]), key, key), cmd(st.sampled_from([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), key, key, key),
    cmd(b"SINTERCARD", st.sampled_from([b"1", b"2", b"0", b"3"]), key, key, opt([b"LIMIT", b"1"])),
]
ZSETS = [
    cmd(b"ZADD", key, opt([b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"CH"], [b"INCR"], [b"NX", b"GT"]), number, member, opt([b"2", b"b"])),
    cmd(b"ZREM", key, member), cmd(b"ZSCORE", key, member), cmd(b"ZMSCORE", key, member, member), cmd(b"ZINCRBY", key, number, member),
    cmd(b"ZCARD", key), cmd(b"ZCOUNT", key, number, number), cmd(b"ZLEXCOUNT", key, lex, lex),
    cmd(b"ZRANGE", key, index, index, opt([b"WITHSCORES"], [b"REV"], [b"REV", b"WITHSCORES"])),
    cmd(b"ZRANGE", key, number, number, b"BYSCORE", opt([b"LIMIT", b"0", b"2"], [b"WITHSCORES"], [b"REV"])),
    cmd(b"ZRANGE", key, lex, lex, b"BYLEX", opt([b"LIMIT", b"1", b"1"], [b"REV"])),
    cmd(st.sampled_from([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"]), key, number, number, opt([b"WITHSCORES"], [b"LIMIT", b"0", b"1"])),
    cmd(st.sampled_from([b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"]), key, lex, lex), cmd(st.sampled_from([b"ZRANK", b"ZREVRANK"]), key, member),
    cmd(b"ZREMRANGEBYSCORE", key, number, number), cmd(b"ZREMRANGEBYRANK", key, index, index), cmd(b"ZREMRANGEBYLEX", key, lex, lex),
    cmd(st.sampled_from([b"ZPOPMIN", b"ZPOPMAX"]), key, opt([b"2"], [b"-1"])),
    cmd(st.sampled_from([b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE"]), key, b"2", key, key, opt([b"WEIGHTS", b"2", b"3"], [b"AGGREGATE", b"MAX"])),
    cmd(st.sampled_from([b"ZUNION", b"ZINTER", b"ZDIFF"]), b"2", key, key, opt([b"WITHSCORES"])),
    cmd(b"ZRANGESTORE", key, key, index, index),
    cmd(b"ZINTERCARD", st.sampled_from([b"1", b"2", b"0"]), key, key, opt([b"LIMIT", b"1"])),
    cmd(st.sampled_from([b"BZPOPMIN", b"BZPOPMAX"]), key, b"0.01"),
    cmd(b"ZMPOP", b"2", key, key, st.sampled_from([b"MIN", b"MAX", b"MID"]), opt([b"COUNT", b"2"])),
]
HYPERLOGLOG = [cmd(b"PFADD", key, member, opt([b"b"])), cmd(b"PFCOUNT", key, opt([b"k2"])), cmd(b"PFMERGE", key, key)]
TRANSACTIONS = [
    cmd(b"EVAL", st.sampled_from([b"return redis.call('GET', KEYS[1])", b"return redis.call('INCR', KEYS[1])",
                                  b"return {1, 2, 'x', false}", b"return redis.pcall('LPUSH', KEYS[1], 'x')",
                                  b"return redis.error_reply('boom')", b"return 3.99"]), b"1", key),
]
MALFORMED = [cmd(b"GET"), cmd(b"SET", key), cmd(b"NOSUCH", key), cmd(b"HSET", key, field), cmd(b"ZADD", key, b"1")]

ALL_COMMANDS = st.one_of(*STRINGS, *KEYSPACE, *HASHES, *LISTS, *SETS, *ZSETS, *HYPERLOGLOG, *TRANSACTIONS, *MALFORMED)

# Replies whose order is a hash table's iteration order in Redis (for hashes:
# once a field or value outgrows the listpack, e.g. a 70-byte value).
UNORDERED = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"KEYS", b"HKEYS", b"HVALS"}


def outcome(client: redis.Redis, argv: list[bytes]) -> Any:
    """Execute ``argv`` and return its reply, or the error's class and text."""
    try:
        reply = client.execute_command(*argv)
    except redis.ResponseError as error:
        return (type(error).__name__, str(error))
    if argv[0].upper() in UNORDERED and isinstance(reply, list | set):
        return sorted(reply)
    if isinstance(reply, set):
        return sorted(reply)
    return reply


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [2, 3])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(ALL_COMMANDS, min_size=1, max_size=25))
def test_random_sequences_match_redis(pair, protocol: int, commands: list[list[bytes]]) -> None:
    embedded, real = pair(protocol=protocol)
    embedded.flushall()
    real.flushall()
    for argv in commands:
        expected = outcome(real, argv)
        got = outcome(embedded, argv)
        assert got == expected, f"{argv!r}: embedded {got!r} != redis {expected!r}"

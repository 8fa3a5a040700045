"""Helpers for RDB tests: values of every type and encoding, a way to read them back, an independent CRC-64."""

from __future__ import annotations

from typing import Any

import redis
from hypothesis import strategies as st

from redpocket.engine.structures import Structure, command, pack, unpack

# name -> (commands that build key "k", whether Redis's bytes are deterministic for it)
VALUES: dict[str, tuple[list[list[Any]], bool]] = {
    "string-int8": ([["SET", "k", "-100"]], True),
    "string-int16": ([["SET", "k", "30000"]], True),
    "string-int32": ([["SET", "k", "-2147483648"]], True),
    "string-int64": ([["SET", "k", "9223372036854775807"]], True),
    "string-short": ([["SET", "k", "hello"]], True),
    "string-lzf": ([["SET", "k", "abc" * 200]], True),
    "string-incompressible": ([["SET", "k", bytes(range(256))]], True),
    "string-float": ([["INCRBYFLOAT", "k", "1.5"]], True),
    "string-appended": ([["SET", "k", "12"], ["APPEND", "k", "3"]], True),
    "list-small": ([["RPUSH", "k", "a", "1", "-5", "4096", "70000", "x" * 70, "12345678901234567890"]], True),
    "list-many-nodes": ([["RPUSH", "k", *[f"item-{i}" * (1 + i % 7) for i in range(4000)]]], True),
    "list-big-element": ([["RPUSH", "k", "small", "y" * 9000, "small"]], True),
    "set-intset16": ([["SADD", "k", "1", "2", "-3", "300"]], True),
    "set-intset64": ([["SADD", "k", "1", "7000000000", "-9223372036854775808"]], True),
    "set-hashtable": ([["SADD", "k", "a", "b", "1"]], False),
    "set-large-intset": ([["SADD", "k", *[str(i) for i in range(600)]]], False),
    "hash-listpack": ([["HSET", "k", "a", "1", "b", "hello", "c", "-4096", "d", "4095", "e", "-9223372036854775808"]], True),
    "hash-hashtable": ([["HSET", "k", "a", "1", "long", "v" * 100]], False),
    "hash-many-fields": ([["HSET", "k", *[f"f{i}" if j == 0 else str(i) for i in range(200) for j in range(2)]]], False),
    "zset-listpack": ([["ZADD", "k", "1", "a", "1.5", "b", "-0", "c", "inf", "d", "-inf", "e", "1e20", "f",
                        "4611686018427387904", "g", "0.1", "h", "-3", "i"]], True),
    "zset-skiplist": ([["ZADD", "k", *[x for i in range(200) for x in (str(i * 1.25 - 7), f"m{i}")]]], True),
    "zset-long-member": ([["ZADD", "k", "1", "a", "2", "m" * 100]], True),
    "stream-small": ([["XADD", "k", "1-1", "f", "v"], ["XADD", "k", "2-0", "f", "12", "g", "x" * 30]], True),
    "stream-nodes-and-tombstones": ([*[["XADD", "k", f"{i}-{i % 4}", "n", str(i), "text", "t" * (i % 50)]
                                       for i in range(1, 160)],
                                     ["XDEL", "k", "3-3", "70-2", "71-3"], ["XTRIM", "k", "MAXLEN", "140"]], True),
    "stream-empty": ([["XADD", "k", "1-0", "f", "v"], ["XDEL", "k", "1-0"],
                      ["XSETID", "k", "7-7", "ENTRIESADDED", "3", "MAXDELETEDID", "2-0"]], True),
}


def build(client: redis.Redis, name: str, key: str = "k") -> None:
    """Run the commands that build value ``name`` at ``key``."""
    for argv in VALUES[name][0]:
        client.execute_command(argv[0], key, *argv[2:])


def read_back(client: redis.Redis, key: str) -> tuple[str, Any]:
    """Return ``(type, content)`` of ``key`` in a form that compares across backends."""
    kind = client.type(key).decode()
    if kind == "string":
        return kind, client.get(key)
    if kind == "list":
        return kind, client.lrange(key, 0, -1)
    if kind == "set":
        return kind, sorted(client.smembers(key))
    if kind == "hash":
        return kind, client.hgetall(key)
    if kind == "zset":
        return kind, client.zrange(key, 0, -1, withscores=True)
    if kind == "stream":
        return kind, client.execute_command("XINFO", "STREAM", key, "FULL")
    return kind, None


def crc64_jones(data: bytes) -> int:
    """Return CRC-64-Jones bit by bit (slow, and independent of the implementation under test)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def reseal(body: bytes, version: int = 10) -> bytes:
    """Return a DUMP payload of ``body`` (type byte and value) with a version and a valid checksum."""
    payload = body + version.to_bytes(2, "little")
    return payload + crc64_jones(payload).to_bytes(8, "little")


# -- hypothesis strategies: values that exercise every encoding boundary --------------------------

_INTEGERS = st.one_of(
    st.integers(-130, 130), st.integers(-70000, 70000), st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1),
)
ELEMENTS = st.one_of(
    _INTEGERS.map(lambda n: b"%d" % n),
    st.binary(max_size=12),
    st.binary(min_size=20, max_size=80),
    st.sampled_from([b"0", b"-0", b"007", b"+1", b" 1", b"1.5", b"inf"]),
    st.builds(lambda unit, count: unit * count, st.sampled_from([b"ab", b"xyz", b"\x00\xff"]), st.integers(1, 200)),
)
SCORES = st.one_of(
    st.integers(-(2**53), 2**53).map(float),
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, 0.1, 1e17, 4611686018427387904.0, -4611686018427387904.0]),
)


@st.composite
def random_value(draw: st.DrawFn) -> tuple[str, list[list[Any]]]:
    """Draw a type and the commands that build a value of it at key ``k``."""
    kind = draw(st.sampled_from(["string", "list", "set", "hash", "zset", "stream"]))
    many = draw(st.sampled_from([3, 20, 140, 700]))
    if kind == "string":
        return kind, [["SET", "k", draw(st.one_of(ELEMENTS, st.binary(min_size=21, max_size=3000)))]]
    if kind == "list":
        return kind, [["RPUSH", "k", *draw(st.lists(ELEMENTS, min_size=1, max_size=many))]]
    if kind == "set":
        members = draw(st.one_of(st.lists(_INTEGERS.map(lambda n: b"%d" % n), min_size=1, max_size=many),
                                 st.lists(ELEMENTS, min_size=1, max_size=many)))
        return kind, [["SADD", "k", *members]]
    if kind == "hash":
        pairs = draw(st.lists(st.tuples(ELEMENTS, ELEMENTS), min_size=1, max_size=many))
        return kind, [["HSET", "k", *[item for pair in pairs for item in pair]]]
    if kind == "stream":  # explicit IDs: the bytes depend on nothing but the commands
        entries = draw(st.lists(st.lists(st.tuples(ELEMENTS, ELEMENTS), min_size=1, max_size=4), min_size=1,
                                max_size=many))
        gaps = draw(st.lists(st.sampled_from(["1-0", "0-1", "1000-7", "8589934592-0"]), min_size=len(entries),
                             max_size=len(entries)))
        ms = seq = 0
        commands: list[list[Any]] = []
        for fields, gap in zip(entries, gaps, strict=True):
            step_ms, step_seq = map(int, gap.split("-"))
            ms, seq = (ms + step_ms, step_seq) if step_ms else (ms, seq + step_seq)
            commands.append(["XADD", "k", f"{ms}-{seq}", *[item for pair in fields for item in pair]])
        return kind, commands
    pairs = draw(st.lists(st.tuples(SCORES, ELEMENTS), min_size=1, max_size=many))
    return kind, [["ZADD", "k", *[item for score, member in pairs for item in (repr(score), member)]]]


class Bag(Structure):
    """A tiny custom structure for DUMP / RESTORE tests."""

    type_name = "bag"
    dump_version = 2

    def __init__(self) -> None:
        self.items: list[bytes] = []

    def __len__(self) -> int:
        return len(self.items)

    @command("BAGADD", creates=True, arity=-3)
    def add(self, *values: bytes) -> int:
        self.items.extend(values)
        return len(self.items)

    @command("BAGITEMS", flags="readonly", missing=[])
    def all_items(self) -> list[bytes]:
        return list(self.items)

    def dump(self) -> bytes:
        return pack(self.items)

    @classmethod
    def load(cls, data: bytes) -> Bag:
        bag = cls()
        bag.items = unpack(data)
        return bag

"""The command table against Redis 7.0's own: every command both have must agree.

For every command (and subcommand) registered in the engine that real
Redis 7.0 also has, ``COMMAND INFO`` on both must give the same arity,
flags, first key, last key and key step.  The ACL categories must agree
too, since they follow from the flags.  Differences that are intended are
listed in :data:`ALLOWED_DIFFERENCES` with the reason; anything else fails,
with every mismatch listed at once.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine

# (command fullname, field) -> why the engine differs from Redis 7.0 on purpose.
ALLOWED_DIFFERENCES: dict[tuple[str, str], str] = {}

FIELDS = ("arity", "flags", "first_key", "last_key", "step", "acl_categories")


def engine_command_names(engine: Engine) -> list[str]:
    """Return the fullname of every command and subcommand the engine registers."""
    names = []
    for spec in engine.commands.values():
        names.append(spec.fullname)
        names.extend(sub.fullname for sub in spec.subcommands.values())
    return names


def describe(entry: list[Any]) -> dict[str, Any]:
    """Pick the compared fields out of one RESP2 COMMAND INFO entry."""
    return {
        "arity": entry[1],
        "flags": sorted(entry[2]),
        "first_key": entry[3],
        "last_key": entry[4],
        "step": entry[5],
        "acl_categories": sorted(entry[6]),
    }


def command_info(client: redis.Redis, names: list[str]) -> dict[str, dict[str, Any] | None]:
    """Return COMMAND INFO for ``names`` (no redis-py callback: its COMMAND parser is lossy)."""
    replies = client.execute_command("COMMAND INFO", *names)
    return {name: None if reply is None else describe(reply) for name, reply in zip(names, replies, strict=True)}


@pytest.fixture
def tables(redis_server) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = Engine()
    names = engine_command_names(engine)
    embedded = EmbeddedRedis(engine, protocol=2)
    real = redis_server.client(protocol=2)
    try:
        return command_info(embedded, names), command_info(real, names)
    finally:
        embedded.close()
        real.close()


def test_command_table_matches_redis(tables) -> None:
    ours, theirs = tables
    mismatches = []
    for name, mine in ours.items():
        real = theirs[name]
        if real is None:
            continue  # a command Redis 7.0 does not have: nothing to compare
        assert mine is not None, f"COMMAND INFO does not know the engine's own command {name!r}"
        for field in FIELDS:
            if mine[field] != real[field] and (name, field) not in ALLOWED_DIFFERENCES:
                mismatches.append(f"{name}.{field}: engine {mine[field]!r} != redis {real[field]!r}")
    assert not mismatches, "command table differs from Redis 7.0:\n" + "\n".join(mismatches)


def test_allowed_differences_are_still_needed(tables) -> None:
    ours, theirs = tables
    stale = [
        f"{name}.{field}" for (name, field) in ALLOWED_DIFFERENCES
        if name in ours and theirs.get(name) is not None and ours[name][field] == theirs[name][field]
    ]
    assert not stale, "allowed differences that no longer differ (remove them): " + ", ".join(stale)


def test_some_commands_are_compared(tables) -> None:
    ours, theirs = tables
    assert sum(1 for name in ours if theirs[name] is not None) >= 20


@pytest.mark.parametrize("protocol", [2, 3])
def test_getkeysandflags_reports_each_keys_own_flags(pair, protocol: int) -> None:
    """SET k v is OW update (RW access update with GET), LMOVE's destination RW insert, SORT's STORE OW update."""
    embedded, real = pair(protocol=protocol)
    cases = [
        ("set", "k", "v"), ("set", "k", "v", "EX", "1", "GET"), ("lmove", "a", "b", "left", "right"),
        ("blmove", "a", "b", "left", "right", "0"), ("bitfield", "k", "get", "u8", "0"),
        ("bitfield", "k", "set", "u8", "0", "1"), ("georadius", "k", "1", "2", "3", "km", "store", "a", "storedist", "b"),
        ("sort", "k", "store", "d"), ("sort", "k", "by", "x", "get", "y"), ("eval", "", "2", "a", "b"),
        ("rpoplpush", "a", "b"), ("smove", "a", "b", "m"), ("copy", "a", "b"), ("rename", "a", "b"),
        ("zunionstore", "d", "2", "a", "b"), ("mset", "a", "1", "b", "2"), ("lmpop", "2", "a", "b", "left"),
        ("bitop", "and", "d", "a", "b"), ("zrangestore", "d", "s", "0", "1"), ("getdel", "k"),
    ]
    for client in (embedded, real):
        client.response_callbacks.clear()
    for case in cases:
        ours = embedded.execute_command("COMMAND", "GETKEYSANDFLAGS", *case)
        theirs = real.execute_command("COMMAND", "GETKEYSANDFLAGS", *case)
        assert ours == theirs, case

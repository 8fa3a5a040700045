"""FUNCTION / FCALL / FCALL_RO and Lua libraries, on both backends and differentially."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import run

LIB = """#!lua name=mylib
local function echo(keys, args) return {keys[1], args[1]} end
redis.register_function('echo', echo)
redis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) end,
                        flags={'no-writes'}, description='reads a key'}
redis.register_function('setter', function(keys, args) return redis.call('set', keys[1], args[1]) end)
"""


def normalise(reply: Any) -> Any:
    """Sort FUNCTION LIST's libraries (Redis lists them in hash order) and turn sets into sorted lists."""
    if isinstance(reply, list | tuple):
        return [normalise(item) for item in reply]
    if isinstance(reply, set):
        return sorted(normalise(item) for item in reply)
    if isinstance(reply, dict):
        return {key: normalise(value) for key, value in reply.items()}
    return reply


def unordered(reply: Any) -> Any:
    """Normalise, and sort every list of lists or maps (libraries, and functions within a library, come in hash order)."""
    reply = normalise(reply)
    if isinstance(reply, list):
        items = [unordered(item) for item in reply]
        if items and all(isinstance(item, list | dict) for item in items):
            return sorted(items, key=repr)
        return items
    if isinstance(reply, dict):
        return {key: unordered(value) for key, value in reply.items()}
    return reply


def listing(client: redis.Redis, *args: Any) -> Any:
    return unordered(run(client, "FUNCTION", "LIST", *args))


def test_load_and_call(r: redis.Redis) -> None:
    assert r.function_load(LIB) == b"mylib"
    assert r.fcall("echo", 1, "k", "v") == [b"k", b"v"]
    assert r.fcall("ECHO", 1, "k", "v") == [b"k", b"v"]  # function names are case-insensitive
    assert r.fcall("setter", 1, "k", "v") == b"OK"
    assert r.fcall_ro("ro", 1, "k") == b"v"
    assert run(r, "FCALL_RO", "setter", 1, "k", "v") == (
        "error", "Can not execute a script with write flag using *_ro command.")
    assert run(r, "FCALL", "nosuch", 0) == ("error", "Function not found")
    assert run(r, "FCALL", "echo", "x") == ("error", "Bad number of keys provided")
    assert run(r, "FCALL", "echo", 2, "k") == ("error", "Number of keys can't be greater than number of args")
    assert run(r, "FCALL", "echo", -1) == ("error", "Number of keys can't be negative")
    assert run(r, "FCALL", "echo") == ("error", "wrong number of arguments for 'fcall' command")


def test_writes_refused_in_no_writes_function(r: redis.Redis) -> None:
    r.function_load("#!lua name=w\nredis.register_function{function_name='w', flags={'no-writes'},"
                    " callback=function(keys) return redis.call('set', keys[1], 'x') end}")
    assert run(r, "FCALL", "w", 1, "k") == (
        "error", "Write commands are not allowed from read-only scripts. script: w, on @user_function:2.")
    assert r.exists("k") == 0


def test_load_errors(r: redis.Redis) -> None:
    r.function_load(LIB)
    assert run(r, "FUNCTION", "LOAD", LIB) == ("error", "Library 'mylib' already exists")
    assert r.function_load(LIB, replace=True) == b"mylib"
    other = "#!lua name=other\nredis.register_function('echo', function() return 1 end)"
    assert run(r, "FUNCTION", "LOAD", other) == ("error", "Function echo already exists")
    assert run(r, "FUNCTION", "LOAD", "FOO", "x") == ("error", "Unknown option given: FOO")
    assert run(r, "FUNCTION", "LOAD") == ("error", "wrong number of arguments for 'function|load' command")


ERRONEOUS_LIBRARIES = [
    "return 1",
    "#!lua",
    "#!lua name=x",
    "#!lua\nredis.register_function('f', function() end)",
    "#!lua name=x name=y\n",
    "#!lua name=x foo=bar\n",
    "#!lua NAME=x\nredis.register_function('f', function() return 1 end)",
    "#!lua name=\"x y\"\n",
    "#!lua name=x-y\n",
    "#!lua name='unbalanced\n",
    "#!python name=x\n",
    "#! name=x\n",
    "#!LUA name=up\nredis.register_function('up', function() return 1 end)",
    "#!lua name=x\nreturn 1",
    "#!lua name=x\nreturn {",
    "#!lua name=x\nlocal s = string.len('x')",
    "#!lua name=x\nredis.call('ping')",
    "#!lua name=x\nfoo = 1",
    "#!lua name=x\nredis.register_function()",
    "#!lua name=x\nredis.register_function('f')",
    "#!lua name=x\nredis.register_function('f', 1)",
    "#!lua name=x\nredis.register_function(1, function() end)",
    "#!lua name=x\nredis.register_function({}, function() end)",
    "#!lua name=x\nredis.register_function('f', function() end, 3)",
    "#!lua name=x\nredis.register_function('a-b', function() end)",
    "#!lua name=x\nredis.register_function('', function() end)",
    "#!lua name=x\nredis.register_function('f', function() end) redis.register_function('f', function() end)",
    "#!lua name=x\nredis.register_function{function_name='f'}",
    "#!lua name=x\nredis.register_function{callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=1}",
    "#!lua name=x\nredis.register_function{function_name={}, callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags='no-writes'}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={1}}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, description=1}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, description={}}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, other=1}",
    "#!lua name=x\nredis.register_function{[1]='f'}",
    "#!lua name=x\nredis.register_function('f', function() end) error('boom')",
    "#!lua name=x\nredis.register_function('f', function() end) error({err='CODE boom'})",
    "#!lua name=x\nredis.log(redis.LOG_NOTICE, 'loading') redis.register_function('f', function() return 1 end)",
    "#!lua name=x\nlocal v = redis.REDIS_VERSION redis.register_function('f', function() return v end)",
    "#!lua name=x\nlocal rf = redis.register_function rf('f', function() return rf('g', function() end) end)",
    "#!lua name=x\nredis.register_function('f', function(keys, args) return KEYS end)",
    "#!lua name=x\nredis.register_function('f', function(keys, args) return redis.register_function end)",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() return 1 end,"
    " flags={'ALLOW-OOM', 'no-cluster', 'allow-stale', 'allow-cross-slot-keys', 'no-writes'}}",
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential_load_and_call(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    for code in ERRONEOUS_LIBRARIES:
        for client in (embedded, real):
            client.function_flush()
        assert run(embedded, "FUNCTION", "LOAD", code) == run(real, "FUNCTION", "LOAD", code), code
        assert listing(embedded, "WITHCODE") == listing(real, "WITHCODE"), code
        for name in ("f", "up"):
            assert run(embedded, "FCALL", name, 0) == run(real, "FCALL", name, 0), code


CALLS = [
    "return 1", "return {keys[1], args[1], #keys, #args}", "return redis.call('incr', keys[1])",
    "return redis.pcall('incr', 'str')", "return redis.call('incr', 'str')", "error('boom')",
    "error({err='MINE boom'})", "return redis.error_reply('oops')", "return redis.status_reply('FINE')",
    "return {double=1.5}", "redis.setresp(3) return redis.call('hgetall', 'h')", "return x",
    "return redis.call('set', 'a', 'b')", "return redis.call('fcall', 'f', 0)", "return ARGV",
    "return type(_G)", "return redis.setresp(2)", "local t = {} t[1] = 1 return t",
    "return redis.call('eval', 'return 1', 0)", "return cjson.encode({a=1})", "return bit.band(7, 3)",
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential_function_bodies(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    for client in (embedded, real):
        client.set("str", "abc")
        client.hset("h", "f", "v")
    for body in CALLS:
        code = f"#!lua name=lib\nredis.register_function('f', function(keys, args)\n{body}\nend)"
        for client in (embedded, real):
            client.function_load(code, replace=True)
        for command in ("FCALL", "FCALL_RO"):
            assert run(embedded, command, "f", 1, "k1", "a1") == run(real, command, "f", 1, "k1", "a1"), body
        assert embedded.get("a") == real.get("a")


@pytest.mark.parametrize("protocol", [2, 3])
def test_differential_management(pair, protocol: int) -> None:
    embedded, real = pair(protocol=protocol)
    commands: list[tuple[Any, ...]] = [
        ("FUNCTION", "LOAD", LIB),
        ("FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function{function_name='two', "
         "callback=function() return 2 end, flags={'no-writes', 'allow-oom'}}"),
        ("FUNCTION", "STATS"),
        ("FUNCTION", "LIST", "LIBRARYNAME"),
        ("FUNCTION", "LIST", "FOO"),
        ("FUNCTION", "LIST", "WITHCODE", "WITHCODE"),
        ("FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"),
        ("FUNCTION", "DELETE", "nosuch"),
        ("FUNCTION", "DELETE", "MYLIB"),
        ("FUNCTION", "FLUSH", "LAZY"),
        ("FUNCTION", "FLUSH", "SYNC", "x"),
        ("FUNCTION", "RESTORE", "garbage"),
        ("FUNCTION", "RESTORE", "garbage", "BAD"),
        ("FUNCTION", "RESTORE", "garbage", "FLUSH", "x"),
        ("FUNCTION", "KILL"),
        ("SCRIPT", "KILL"),
        ("FUNCTION", "KILL", "x"),
        ("FUNCTION", "NOSUCH"),
        ("FUNCTION", "HELP"),
        ("FUNCTION", "DELETE", "mylib"),
        ("FUNCTION", "STATS"),
        ("FCALL", "echo", 0),
        ("FUNCTION", "FLUSH", "ASYNC"),
        ("FUNCTION", "STATS"),
    ]
    for command in commands:
        assert normalise(run(embedded, *command)) == normalise(run(real, *command)), command
        for pattern in (None, "*", "my*", "lib?", "nomatch"):
            args = ("LIBRARYNAME", pattern) if pattern else ()
            assert listing(embedded, *args) == listing(real, *args), (command, pattern)


def test_dump_restore_between_backends(pair) -> None:
    embedded, real = pair()
    real.function_load(LIB)
    real.function_load("#!lua name=lib2\nredis.register_function('two', function() return 2 end)")
    payload = real.function_dump()  # Redis's payload (LZF-compressed strings)
    assert embedded.function_restore(payload)
    assert listing(embedded, "WITHCODE") == listing(real, "WITHCODE")
    assert embedded.fcall("two", 0) == 2
    ours = embedded.function_dump()
    real.function_flush()
    assert real.function_restore(ours)
    assert listing(embedded, "WITHCODE") == listing(real, "WITHCODE")
    for client in (embedded, real):
        # (which library Redis names first depends on its hash order)
        assert run(client, "FUNCTION", "RESTORE", ours) in {
            ("error", "Library mylib already exists"), ("error", "Library lib2 already exists")}
        assert run(client, "FUNCTION", "RESTORE", ours, "REPLACE") == b"OK"
        assert run(client, "FUNCTION", "RESTORE", ours[:-1] + bytes([ours[-1] ^ 1])) == (
            "error", "DUMP payload version or checksum are wrong")
        client.function_flush()
        client.function_load("#!lua name=clash\nredis.register_function('echo', function() return 0 end)")
        assert run(client, "FUNCTION", "RESTORE", ours) == ("error", "Function echo already exists")
        assert run(client, "FUNCTION", "RESTORE", ours, "REPLACE") == ("error", "Function echo already exists")
        assert run(client, "FUNCTION", "RESTORE", ours, "FLUSH") == b"OK"
        assert client.fcall("echo", 1, "a", "b") == [b"a", b"b"]
        assert run(client, "FCALL", "x", 0) == ("error", "Function not found")


def test_restore_refuses_a_payload_of_keys(pair) -> None:
    embedded, real = pair()
    real.set("k", "v")
    payload = real.dump("k")
    assert run(embedded, "FUNCTION", "RESTORE", payload) == run(real, "FUNCTION", "RESTORE", payload)


def test_flush_leaves_keys_and_flushall_leaves_functions(r: redis.Redis) -> None:
    r.function_load(LIB)
    r.set("k", "v")
    r.flushall()
    assert r.fcall("echo", 1, "a", "b") == [b"a", b"b"]
    r.set("k", "v")
    r.function_flush()
    assert r.get("k") == b"v"
    assert r.function_list() == []


def test_stats_and_list_shapes(make_client) -> None:
    r = make_client(protocol=3)
    r.function_load(LIB)
    stats = r.function_stats()
    assert stats[b"running_script"] is None
    assert stats[b"engines"] == {b"LUA": {b"libraries_count": 1, b"functions_count": 3}}
    [library] = r.function_list(withcode=True)
    assert library[b"library_name"] == b"mylib" and library[b"library_code"] == LIB.encode()
    ro = next(f for f in library[b"functions"] if f[b"name"] == b"ro")
    assert ro[b"description"] == b"reads a key" and list(ro[b"flags"]) == [b"no-writes"]


def test_function_write_is_propagated_and_watched(make_client) -> None:
    r = make_client()
    other = make_client()
    r.function_load(LIB)
    with r.pipeline() as pipe:
        pipe.watch("k")
        other.fcall("setter", 1, "k", "changed")
        pipe.multi()
        pipe.get("k")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.get("k") == b"changed"


def test_fcall_in_transaction(r: redis.Redis) -> None:
    r.function_load(LIB)
    with r.pipeline() as pipe:
        pipe.fcall("setter", 1, "k", "v")
        pipe.fcall("echo", 1, "a", "b")
        assert pipe.execute() == [b"OK", [b"a", b"b"]]


names = st.text("abcXYZ_09-", min_size=0, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["load", "replace", "delete", "call", "ro", "dump"]), names, names),
                      max_size=12))
def test_hypothesis_sequences(pair, steps: list[tuple[str, str, str]]) -> None:
    embedded, real = pair()
    for client in (embedded, real):
        client.function_flush()
    dumps = []
    for action, library, function in steps:
        code = (f"#!lua name={library}\nredis.register_function{{function_name='{function}', "
                f"callback=function(keys, args) return {{'{library}', '{function}', keys[1]}} end, flags={{'no-writes'}}}}")
        if action in ("load", "replace"):
            args: tuple[Any, ...] = ("FUNCTION", "LOAD", *(("REPLACE",) if action == "replace" else ()), code)
        elif action == "delete":
            args = ("FUNCTION", "DELETE", library)
        elif action == "dump":
            payload = embedded.function_dump()
            assert payload == real.function_dump() or listing(embedded) == listing(real)
            dumps.append(payload)
            args = ("FUNCTION", "RESTORE", dumps[0], "REPLACE")
        else:
            args = ("FCALL_RO" if action == "ro" else "FCALL", function, 1, library)
        assert run(embedded, *args) == run(real, *args), args
        assert listing(embedded, "WITHCODE") == listing(real, "WITHCODE"), args

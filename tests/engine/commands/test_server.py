"""Server and introspection commands on both backends.

TIME INFO CONFIG LASTSAVE ROLE LOLWUT DEBUG MEMORY, COMMAND and OBJECT.
Tests needing a data command another family provides (SET, RPUSH, ZADD)
skip with that reason until the command is registered.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from tests.helpers import run

from redpocket.client import EmbeddedRedis
from redpocket.engine import Engine
from redpocket.engine.config import Config, memtoull
from redpocket.engine.info import bytes_to_human, select_sections

DEBUG_NOT_ALLOWED = (
    'DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it '
    "from a local connection, otherwise you need to set this option in the configuration file, and then "
    "restart the server."
)


def require(client: redis.Redis, *commands: str) -> None:
    """Skip (saying why) when the embedded engine does not have a command yet."""
    if isinstance(client, EmbeddedRedis):
        missing = [name for name in commands if name.encode() not in client.engine.commands]
        if missing:
            pytest.skip(f"{', '.join(missing)} not registered in the engine yet (another family)")


def raw(client: redis.Redis, *args: Any) -> Any:
    """Execute without redis-py's response callback (its COMMAND/CONFIG parsers reshape replies)."""
    if len(args) > 1 and isinstance(args[0], str):
        args = (f"{args[0]} {args[1]}", *args[2:])
    return run(client, *args)


# -- TIME LASTSAVE ROLE LOLWUT ---------------------------------------------------------------


def test_time(r: redis.Redis) -> None:
    seconds, micros = r.execute_command("TIME")
    assert abs(seconds - time.time()) < 5 and 0 <= micros < 1_000_000
    assert run(r, "TIME", "x") == ("error", "wrong number of arguments for 'time' command")


def test_lastsave_and_role(r: redis.Redis) -> None:
    assert abs(r.lastsave().timestamp() - time.time()) < 3600 * 24
    assert raw(r, "ROLE") == [b"master", 0, []]
    assert run(r, "ROLE", "x") == ("error", "wrong number of arguments for 'role' command")


def test_lolwut(r: redis.Redis) -> None:
    assert r.execute_command("LOLWUT") == b"Redis ver. 7.0.15\n"


# -- INFO -------------------------------------------------------------------------------------


def test_info_default_sections(r: redis.Redis) -> None:
    assert set(r.info()) == set(r.info("default"))
    text = raw(r, "INFO", "default")
    headers = [line for line in text.split(b"\r\n") if line.startswith(b"#")]
    assert headers == [b"# Server", b"# Clients", b"# Memory", b"# Persistence", b"# Stats",
                       b"# Replication", b"# CPU", b"# Modules", b"# Errorstats", b"# Cluster", b"# Keyspace"]
    assert text.startswith(b"# Server\r\nredis_version:7.0.15\r\n")


@pytest.mark.parametrize("arguments", [("all",), ("everything",), ("default", "commandstats"), ("keyspace", "server"),
                                       ("KEYSPACE", "KEYSPACE"), ("nosuch",), ("modules",), ("cpu",), ("latencystats",)])
def test_info_section_selection_matches(pair, arguments) -> None:
    embedded, real = pair(protocol=2)
    assert _headers(embedded, arguments) == _headers(real, arguments)


def _headers(client: redis.Redis, arguments: tuple[str, ...]) -> list[bytes]:
    text = raw(client, "INFO", *arguments)
    return [line for line in text.split(b"\r\n") if line.startswith(b"#")]


def test_info_fields_match_redis(pair) -> None:
    embedded, real = pair(protocol=2)
    for section in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster"):
        ours, theirs = embedded.info(section), real.info(section)
        assert sorted(ours) == sorted(theirs), section


def test_info_layout_bytes(make_client) -> None:
    client = make_client(protocol=2)
    client.flushall()
    assert raw(client, "INFO", "keyspace") == b"# Keyspace\r\n"
    assert raw(client, "INFO", "cluster", "keyspace") == b"# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n"
    assert raw(client, "INFO", "nosuch") == b""


def test_info_keyspace(r: redis.Redis) -> None:
    r.hset("h", "f", "v")
    r.sadd(b"\xff\x00s", "m")
    r.expire("h", 100)
    assert r.info("keyspace") == {"db0": {"keys": 2, "expires": 1, "avg_ttl": r.info("keyspace")["db0"]["avg_ttl"]}}
    r.execute_command("SELECT", 3)
    r.hset("h3", "f", "v")
    assert set(r.info("keyspace")) == {"db0", "db3"}


def test_info_resp3_is_verbatim_text(make_client) -> None:
    client = make_client(protocol=3)
    assert raw(client, "INFO", "cluster") == b"# Cluster\r\ncluster_enabled:0\r\n"
    assert client.info("replication")["role"] == "master"


def test_info_commandstats_counts_calls_and_failures(make_client) -> None:
    client = make_client(protocol=2)
    client.config_resetstat()
    client.hset("h", "f", "v")
    client.hset("h", "g", "v")
    client.sadd("h2", "a")
    assert run(client, "SADD", "h", "x")[0] == "error"
    stats = client.info("commandstats")
    assert stats["cmdstat_hset"]["calls"] == 2 and stats["cmdstat_hset"]["failed_calls"] == 0
    assert stats["cmdstat_sadd"]["calls"] == 2 and stats["cmdstat_sadd"]["failed_calls"] == 1
    assert "cmdstat_info" not in stats  # the INFO being answered is not counted yet
    assert client.info("commandstats")["cmdstat_info"]["calls"] == 1
    assert client.info("stats")["total_commands_processed"] >= 5
    client.config_resetstat()
    assert "cmdstat_hset" not in client.info("commandstats")


def test_config_resetstat_counts_itself_and_info_leaves_itself_out(make_client) -> None:
    client = make_client(protocol=2)
    client.config_resetstat()
    assert client.info("stats")["total_commands_processed"] == 1  # CONFIG RESETSTAT, counted once it ran
    stats = client.info("commandstats")
    assert stats["cmdstat_config|resetstat"]["calls"] == 1
    assert stats["cmdstat_info"]["calls"] == 1  # the INFO before, not this one


def test_info_commandstats_times_commands(make_client) -> None:
    client = make_client(protocol=2)
    client.config_resetstat()
    client.rpush("l", *range(2000))
    for _ in range(20):
        client.lrange("l", 0, -1)
    stat = client.info("commandstats")["cmdstat_lrange"]
    assert stat["calls"] == 20 and stat["usec"] > 0
    assert stat["usec_per_call"] == pytest.approx(stat["usec"] / 20, abs=0.01)
    client.config_resetstat()
    client.get("k")
    assert client.info("commandstats")["cmdstat_get"]["usec"] < stat["usec"]


def test_info_stats_counters(r: redis.Redis) -> None:
    r.config_resetstat()
    r.hset("h", "f", "v")
    r.hget("h", "f")
    r.hget("nokey", "f")
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 1 and stats["keyspace_misses"] == 1


def test_info_helpers() -> None:
    assert bytes_to_human(1023) == "1023B"
    assert bytes_to_human(941536) == "919.47K"
    assert bytes_to_human(6615040) == "6.31M"
    assert select_sections([]) == select_sections(["default"])
    assert "commandstats" in select_sections(["all"])


# -- CONFIG -----------------------------------------------------------------------------------


CONFIG_SEQUENCES: list[list[tuple[Any, ...]]] = [
    [("CONFIG", "GET", "hz"), ("CONFIG", "GET", "HZ"), ("CONFIG", "GET", "nosuch"), ("CONFIG", "GET", "hz", "maxmemory")],
    [("CONFIG", "GET", "*max-*-entries*"), ("CONFIG", "GET", "hash-max-ziplist-entries"), ("CONFIG", "GET", "*LUA*")],
    [("CONFIG", "SET", "hz", "20", "maxmemory", "10mb"), ("CONFIG", "GET", "hz", "maxmemory")],
    [("CONFIG", "SET", "hz", "abc"), ("CONFIG", "SET", "hz", " 5"), ("CONFIG", "SET", "hz", "+5"), ("CONFIG", "SET", "hz", "05")],
    [("CONFIG", "SET", "hz", "-1"), ("CONFIG", "SET", "hz", "0"), ("CONFIG", "GET", "hz"), ("CONFIG", "SET", "hz", "100000"),
     ("CONFIG", "GET", "hz"), ("CONFIG", "SET", "hz", "10")],
    [("CONFIG", "SET", "nosuch", "1"), ("CONFIG", "SET", "hz", "10", "hz", "11"), ("CONFIG", "SET", "hz", "10", "nosuch", "1")],
    [("CONFIG", "SET", "hz"), ("CONFIG", "SET", "hz", "1", "maxmemory"), ("CONFIG", "SET", "databases", "3")],
    [("CONFIG", "SET", "databases", "1", "nosuch", "1"), ("CONFIG", "SET", "hz", "x", "databases", "1")],
    [("CONFIG", "SET", "hz", "15", "maxmemory", "x"), ("CONFIG", "GET", "hz")],  # atomic: hz unchanged
    [("CONFIG", "SET", "maxmemory-policy", "foo"), ("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LFU"),
     ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "SET", "maxmemory-policy", "noeviction")],
    [("CONFIG", "SET", "appendonly", "maybe"), ("CONFIG", "SET", "activerehashing", "NO"), ("CONFIG", "GET", "activerehashing"),
     ("CONFIG", "SET", "activerehashing", "yes")],
    [("CONFIG", "SET", "maxmemory", "1.5gb"), ("CONFIG", "SET", "maxmemory", "-1"), ("CONFIG", "SET", "maxmemory", "10GB"),
     ("CONFIG", "GET", "maxmemory"), ("CONFIG", "SET", "maxmemory", "5k"), ("CONFIG", "GET", "maxmemory"),
     ("CONFIG", "SET", "maxmemory", ""), ("CONFIG", "GET", "maxmemory"), ("CONFIG", "SET", "maxmemory", "0")],
    [("CONFIG", "SET", "maxmemory-clients", "10%"), ("CONFIG", "GET", "maxmemory-clients"),
     ("CONFIG", "SET", "maxmemory-clients", "200%"), ("CONFIG", "SET", "maxmemory-clients", "abc"),
     ("CONFIG", "SET", "maxmemory-clients", "0")],
    [("CONFIG", "SET", "proto-max-bulk-len", "10"), ("CONFIG", "SET", "hash-max-listpack-value", "1k"),
     ("CONFIG", "GET", "hash-max-listpack-value"), ("CONFIG", "SET", "hash-max-listpack-value", "64"),
     ("CONFIG", "SET", "hash-max-listpack-entries", "1k"), ("CONFIG", "SET", "hash-max-listpack-entries", "-1")],
    [("CONFIG", "SET", "maxclients", "0"), ("CONFIG", "SET", "slowlog-max-len", "-1"),
     ("CONFIG", "SET", "list-max-listpack-size", "99999999999"), ("CONFIG", "SET", "active-expire-effort", "11"),
     ("CONFIG", "SET", "timeout", "1.5"), ("CONFIG", "SET", "unixsocketperm", "777")],
    [("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "SET", "dbfilename", "x.rdb")],
    [("CONFIG", "SET", "save", "abc"), ("CONFIG", "SET", "save", "1 2 3"), ("CONFIG", "SET", "save", "0100 10"),
     ("CONFIG", "GET", "save"), ("CONFIG", "SET", "save", "100  10"), ("CONFIG", "SET", "save", "")],
    [("CONFIG", "SET", "notify-keyspace-events", "KEA"), ("CONFIG", "GET", "notify-keyspace-events"),
     ("CONFIG", "SET", "notify-keyspace-events", "nKA"), ("CONFIG", "GET", "notify-keyspace-events"),
     ("CONFIG", "SET", "notify-keyspace-events", "Kg$mn"), ("CONFIG", "GET", "notify-keyspace-events"),
     ("CONFIG", "SET", "notify-keyspace-events", "Egx$lshzetdm"), ("CONFIG", "GET", "notify-keyspace-events"),
     ("CONFIG", "SET", "notify-keyspace-events", "xyz"), ("CONFIG", "SET", "notify-keyspace-events", "")],
    [("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 2k 3"), ("CONFIG", "GET", "client-output-buffer-limit"),
     ("CONFIG", "SET", "client-output-buffer-limit", "master 1 1 1"), ("CONFIG", "SET", "client-output-buffer-limit", "x 1"),
     ("CONFIG", "SET", "client-output-buffer-limit", "pubsub 33554432 8388608 60")],
    [("CONFIG", "SET", "oom-score-adj-values", "1 2"), ("CONFIG", "SET", "oom-score-adj-values", "0 200 9000"),
     ("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.5"), ("CONFIG", "GET", "latency-tracking-info-percentiles"),
     ("CONFIG", "SET", "latency-tracking-info-percentiles", "101"),
     ("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")],
    [("CONFIG", "SET", "lua-time-limit", "100"), ("CONFIG", "GET", "busy-reply-threshold"), ("CONFIG", "GET", "lua-time-limit"),
     ("CONFIG", "SET", "busy-reply-threshold", "5000")],
    [("CONFIG", "REWRITE"), ("CONFIG", "RESETSTAT"), ("CONFIG", "HELP"), ("CONFIG", "NOPE"), ("CONFIG",),
     ("CONFIG", "GET"), ("CONFIG", "REWRITE", "x"), ("CONFIG", "HELP", "x")],
]


def _normalise(reply: Any) -> Any:
    if isinstance(reply, dict):
        return sorted(reply.items())
    if isinstance(reply, list) and len(reply) % 2 == 0 and all(isinstance(x, bytes) for x in reply) and reply[:1] != [b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]:
        return sorted(zip(reply[::2], reply[1::2], strict=True))
    return reply


@pytest.mark.parametrize("protocol", [2, 3])
def test_config_differential(pair, protocol) -> None:
    embedded, real = pair(protocol=protocol)
    try:
        for sequence in CONFIG_SEQUENCES:
            for command in sequence:
                ours, theirs = raw(embedded, *command), raw(real, *command)
                assert _normalise(ours) == _normalise(theirs), command
    finally:
        real.config_set("hz", 10)
        real.config_set("maxmemory", 0)
        real.config_set("maxmemory-policy", "noeviction")


def test_config_get_all_names_match(pair) -> None:
    embedded, real = pair(protocol=2)
    ours = set(embedded.config_get("*"))
    theirs = set(real.config_get("*"))
    # TLS parameters exist only in a TLS build; the embedded engine lists them always.
    assert ours - theirs <= {name for name in ours if name.startswith("tls-")}
    assert theirs - ours == set()


def test_config_get_values_resp3_map(make_client) -> None:
    client = make_client(protocol=3)
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert client.config_get("hash-max-listpack-entries", "set-max-intset-entries") == {
        "hash-max-listpack-entries": "512", "set-max-intset-entries": "512"}


def test_config_set_changes_engine_behaviour() -> None:
    engine = Engine()
    client = EmbeddedRedis(engine)
    client.config_set("hz", 50)
    assert engine.config.hz == 50
    client.config_set("hz", 100000)
    assert engine.config.hz == 500 and client.config_get("hz") == {"hz": "500"}


def test_config_python_api() -> None:
    config = Config(databases=4, enable_debug_command="local")
    assert config.get("databases") == "4" and config.get("enable-debug-command") == "local"
    assert config.get("lua-time-limit") == config.get("busy-reply-threshold") == "5000"
    assert config.get_int("maxmemory") == 0
    config.set("maxmemory-clients", "10%")
    assert config.get_int("maxmemory-clients") == -10
    with pytest.raises(Exception, match="Unknown option"):
        config.set("nosuch", "1")
    assert memtoull("1kb") == 1024 and memtoull("2G") == 2 * 10**9 and memtoull("1.5") is None
    assert Engine(config={"databases": 3}).config.get("databases") == "3"


def test_config_rewrite_with_a_file(tmp_path) -> None:
    engine = Engine()
    path = tmp_path / "redis.conf"
    engine.config.config_file = str(path)
    client = EmbeddedRedis(engine)
    client.config_set("maxmemory-policy", "allkeys-lru")
    assert client.config_rewrite() in (True, b"OK")
    assert "maxmemory-policy allkeys-lru" in path.read_text()


# -- DEBUG ------------------------------------------------------------------------------------


def test_debug_refused_when_disabled() -> None:
    client = EmbeddedRedis(Engine(config={"enable-debug-command": "no"}))
    assert run(client, "DEBUG", "SLEEP", "0") == ("error", DEBUG_NOT_ALLOWED)
    assert run(client, "DEBUG") == ("error", "wrong number of arguments for 'debug' command")


def test_debug_sleep_on_both_backends(r: redis.Redis) -> None:
    start = time.monotonic()
    assert r.execute_command("DEBUG", "SLEEP", "0.05") == b"OK"
    assert time.monotonic() - start >= 0.05


@pytest.fixture
def debug_client() -> redis.Redis:
    return EmbeddedRedis(Engine(config={"enable-debug-command": "local"}))


def test_debug_sleep_holds_the_engine(debug_client) -> None:
    start = time.monotonic()
    assert debug_client.execute_command("DEBUG", "SLEEP", "0.05") == b"OK"
    assert time.monotonic() - start >= 0.05
    assert debug_client.execute_command("DEBUG", "SLEEP", "abc") == b"OK"  # strtod: 0
    assert debug_client.engine.lock.acquire(blocking=False)
    debug_client.engine.lock.release()


def test_debug_set_active_expire(debug_client) -> None:
    engine = debug_client.engine
    assert debug_client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    assert engine.active_expire_enabled is False
    assert debug_client.execute_command("DEBUG", "set-active-expire", "2") == b"OK"
    assert engine.active_expire_enabled is True
    assert run(debug_client, "DEBUG", "SET-ACTIVE-EXPIRE") == (
        "error", "unknown subcommand or wrong number of arguments for 'SET-ACTIVE-EXPIRE'. Try DEBUG HELP.")
    assert run(debug_client, "DEBUG", "nosuch") == (
        "error", "unknown subcommand or wrong number of arguments for 'nosuch'. Try DEBUG HELP.")


def test_debug_object_and_help(debug_client) -> None:
    debug_client.hset("h", "f", "v")
    line = debug_client.debug_object("h")
    assert line["encoding"] == "listpack" and line["refcount"] == 1
    assert run(debug_client, "DEBUG", "OBJECT", "nokey") == ("error", "no such key")
    assert debug_client.execute_command("DEBUG", "HELP")[0].startswith(b"DEBUG <subcommand>")


# -- MEMORY -----------------------------------------------------------------------------------


def test_memory_usage(r: redis.Redis) -> None:
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.sadd("s", *range(100))
    assert isinstance(r.memory_usage("h"), int) and r.memory_usage("h") > 0
    assert r.memory_usage("s", samples=0) > r.memory_usage("h")
    assert r.memory_usage("nokey") is None
    for args in (("h", "SAMPLES"), ("h", "FOO", "1"), ("h", "SAMPLES", "x")):
        assert raw(r, "MEMORY", "USAGE", *args)[0] == "error"
    assert raw(r, "MEMORY", "USAGE", "h", "SAMPLES", "x") == ("error", "value is not an integer or out of range")
    assert raw(r, "MEMORY", "HELP")[0] == b"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"


# -- COMMAND ----------------------------------------------------------------------------------

COMMAND_SEQUENCES: list[tuple[Any, ...]] = [
    ("COMMAND", "GETKEYS", "hget", "k", "f"),
    ("COMMAND", "GETKEYS", "hget", "k"),
    ("COMMAND", "GETKEYS", "ping"),
    ("COMMAND", "GETKEYS", "nosuch", "a"),
    ("COMMAND", "GETKEYS", "sadd", "a"),
    ("COMMAND", "GETKEYS", "sinterstore", "d", "a", "b"),
    ("COMMAND", "GETKEYS", "config", "get", "x"),
    ("COMMAND", "GETKEYS", "object", "encoding", "k"),
    ("COMMAND", "GETKEYS", "memory", "usage", "k"),
    ("COMMAND", "GETKEYS"),
    ("COMMAND", "GETKEYS", "hget"),
    ("COMMAND", "LIST", "FILTERBY", "nope", "x"),
    ("COMMAND", "LIST", "FILTERBY", "pattern"),
    ("COMMAND", "LIST", "FILTERBY", "module", "x"),
    ("COMMAND", "LIST", "FILTERBY", "aclcat", "nosuch"),
    ("COMMAND", "LIST", "x"),
    ("COMMAND", "COUNT", "x"),
    ("COMMAND", "DOCS", "nosuch"),
    ("COMMAND", "INFO", "nosuch"),
    ("COMMAND", "INFO", "config|get", "CONFIG|SET", "object|nosuch", "a|b|c"),
    ("COMMAND", "DOCS", "config|get", "object"),
    ("COMMAND", "INFO", "object", "config", "memory", "command"),
    ("COMMAND", "DOCS", "info", "time", "lastsave", "role", "debug"),
    ("COMMAND", "INFO", "info", "time", "lastsave", "role", "debug", "lolwut", "hset", "sadd", "ping"),
    ("COMMAND", "HELP"),
    ("COMMAND", "NOPE"),
    ("OBJECT", "HELP"),
    ("OBJECT", "NOPE"),
    ("OBJECT",),
    ("OBJECT", "ENCODING"),
    ("OBJECT", "ENCODING", "nokey"),
    ("OBJECT", "REFCOUNT", "nokey"),
    ("OBJECT", "IDLETIME", "nokey"),
    ("OBJECT", "FREQ", "nokey"),
]


def _sorted_subcommands(reply: Any) -> Any:
    """Order subcommand lists and maps (Redis lists them in hash-table order)."""
    if isinstance(reply, dict):
        return {key: _sorted_subcommands(value) for key, value in sorted(reply.items())}
    if isinstance(reply, list):
        items = [_sorted_subcommands(item) for item in reply]
        for i in range(len(items) - 1):
            if items[i] == b"subcommands" and isinstance(items[i + 1], list):  # RESP2 flat map
                flat = items[i + 1]
                items[i + 1] = sorted(zip(flat[::2], flat[1::2], strict=True))
        if items and all(isinstance(item, list) and item and isinstance(item[0], bytes) and len(item) == 10
                         for item in items):
            return sorted(items, key=lambda item: item[0])
        if (len(items) == 10 and isinstance(items[0], bytes) and isinstance(items[9], list)
                and all(isinstance(sub, list) for sub in items[9])):
            items[9] = sorted(items[9], key=lambda item: item[0])
        return items
    return reply


@pytest.mark.parametrize("protocol", [2, 3])
def test_command_and_object_differential(pair, protocol) -> None:
    embedded, real = pair(protocol=protocol)
    for command in COMMAND_SEQUENCES:
        ours, theirs = raw(embedded, *command), raw(real, *command)
        assert _sorted_subcommands(ours) == _sorted_subcommands(theirs), command


def test_command_list_filters(pair) -> None:
    embedded, real = pair(protocol=2)
    ours = set(raw(embedded, "COMMAND", "LIST"))
    theirs = set(raw(real, "COMMAND", "LIST"))
    assert ours <= theirs | {name for name in ours if b"|" not in name}
    assert {b"config|get", b"object|encoding", b"command|docs", b"info"} <= ours
    for category in ("dangerous", "admin", "KEYSPACE", "connection"):
        mine = set(raw(embedded, "COMMAND", "LIST", "FILTERBY", "ACLCAT", category))
        real_names = set(raw(real, "COMMAND", "LIST", "FILTERBY", "ACLCAT", category))
        assert mine == real_names & ours, category
    assert set(raw(embedded, "COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG*")) == {
        b"config", b"config|get", b"config|set", b"config|resetstat", b"config|rewrite", b"config|help"}


def test_command_count_and_all(r: redis.Redis) -> None:
    count = raw(r, "COMMAND", "COUNT")
    everything = raw(r, "COMMAND")
    assert len(everything) == count == len(raw(r, "COMMAND", "INFO"))
    assert len(raw(r, "COMMAND", "DOCS")) == count


def test_command_info_for_a_command_redis_lacks() -> None:
    from redpocket.engine.registry import define

    engine = Engine()
    table: dict[bytes, Any] = {}

    @define("memo.get", -2, "readonly fast", 1, 1, 1, keys=None, group="hash", since="0.1.0", table=table)
    def memo_get(session: Any, argv: list[bytes]) -> Any:
        """MEMO.GET key"""
        return None

    engine.commands.update(table)
    client = EmbeddedRedis(engine, protocol=2)
    [info] = raw(client, "COMMAND", "INFO", "memo.get")
    assert info[:7] == [b"memo.get", -2, [b"readonly", b"fast"], 1, 1, 1, [b"@read", b"@hash", b"@fast"]]
    docs = raw(client, "COMMAND", "DOCS", "memo.get")
    assert docs == [b"memo.get", [b"summary", b"MEMO.GET key", b"since", b"0.1.0", b"group", b"hash"]]


# -- OBJECT -----------------------------------------------------------------------------------


def test_object_encoding_hash_and_set(pair) -> None:
    embedded, real = pair(protocol=2)
    for client in (embedded, real):
        client.hset("h1", mapping={f"f{i}": "v" for i in range(512)})
        client.hset("h2", mapping={f"f{i}": "v" for i in range(513)})
        client.hset("h3", "f", "x" * 64)
        client.hset("h4", "f", "x" * 65)
        client.hset(b"\xff\xfe", b"\x00", b"\x80")
        client.sadd("s1", *range(512))
        client.sadd("s2", *range(513))
        client.sadd("s3", "-1", "01")
        client.sadd("s4", "-9223372036854775808", "9223372036854775807")
        client.sadd("s5", "9223372036854775808")
    for key in ("h1", "h2", "h3", "h4", b"\xff\xfe", "s1", "s2", "s3", "s4", "s5"):
        for sub in ("ENCODING", "REFCOUNT", "IDLETIME"):
            assert raw(embedded, "OBJECT", sub, key) == raw(real, "OBJECT", sub, key), (sub, key)
        assert raw(embedded, "OBJECT", "FREQ", key) == raw(real, "OBJECT", "FREQ", key)


def test_object_encoding_follows_config(pair) -> None:
    embedded, real = pair(protocol=2)
    try:
        for client in (embedded, real):
            client.config_set("hash-max-listpack-entries", 2)
            client.config_set("set-max-intset-entries", 2)
            client.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
            client.sadd("s", 1, 2, 3)
        for key in ("h", "s"):
            assert raw(embedded, "OBJECT", "ENCODING", key) == raw(real, "OBJECT", "ENCODING", key)
    finally:
        real.config_set("hash-max-listpack-entries", 512)
        real.config_set("set-max-intset-entries", 512)


def test_object_encoding_strings(pair) -> None:
    embedded, real = pair(protocol=2)
    require(embedded, "set")
    values = ["hello", "123", "-9223372036854775808", "9223372036854775808", "012", "x" * 44, "x" * 45, " 1", "1.5",
              "10000", "1" * 21, "-1", "0"]
    for client in (embedded, real):
        for i, value in enumerate(values):
            client.set(f"k{i}", value)
    for i in range(len(values)):
        for sub in ("ENCODING", "REFCOUNT"):
            assert raw(embedded, "OBJECT", sub, f"k{i}") == raw(real, "OBJECT", sub, f"k{i}"), (sub, values[i])


def test_object_encoding_list_and_zset(pair) -> None:
    embedded, real = pair(protocol=2)
    require(embedded, "rpush", "zadd")
    for client in (embedded, real):
        client.rpush("l", *range(10))
        client.zadd("z1", {f"m{i}": i for i in range(128)})
        client.zadd("z2", {f"m{i}": i for i in range(129)})
        client.zadd("z3", {"x" * 65: 1})
    for key in ("l", "z1", "z2", "z3"):
        assert raw(embedded, "OBJECT", "ENCODING", key) == raw(real, "OBJECT", "ENCODING", key), key


def test_object_freq_and_idletime_by_policy(pair) -> None:
    embedded, real = pair(protocol=2)
    try:
        for client in (embedded, real):
            client.hset("h", "f", "v")
            client.config_set("maxmemory-policy", "allkeys-lfu")
        assert raw(embedded, "OBJECT", "FREQ", "h") == raw(real, "OBJECT", "FREQ", "h")
        assert raw(embedded, "OBJECT", "IDLETIME", "h") == raw(real, "OBJECT", "IDLETIME", "h")
        assert raw(embedded, "OBJECT", "IDLETIME", "h")[0] == "error"
    finally:
        for client in (embedded, real):
            client.config_set("maxmemory-policy", "noeviction")


def test_object_idletime_counts_from_the_last_access(r: redis.Redis) -> None:
    """Reads and writes reset a key's idle time; TYPE, EXISTS and OBJECT do not (Redis's LOOKUP_NOTOUCH)."""
    r.set("read", "v")
    r.set("kept", "v")
    r.rpush("written", "x")
    assert raw(r, "OBJECT", "IDLETIME", "read") == 0
    time.sleep(2.2)  # (Redis's LRU clock ticks in seconds)
    r.get("read")
    r.rpush("written", "y")
    r.type("kept")
    r.exists("kept")
    raw(r, "OBJECT", "ENCODING", "kept")
    assert raw(r, "OBJECT", "IDLETIME", "read") == 0
    assert raw(r, "OBJECT", "IDLETIME", "written") == 0
    assert 1 <= raw(r, "OBJECT", "IDLETIME", "kept") <= 3
    r.touch("kept")
    assert raw(r, "OBJECT", "IDLETIME", "kept") == 0
    assert raw(r, "OBJECT", "IDLETIME", "missing") is None


def test_object_on_expired_key(r: redis.Redis) -> None:
    r.hset("h", "f", "v")
    r.pexpire("h", 1)
    time.sleep(0.01)
    assert raw(r, "OBJECT", "ENCODING", "h") is None


@pytest.mark.parametrize("protocol", [2, 3])
def test_lolwut_versions_match_redis(pair, protocol: int) -> None:
    """Redis 7.0's LOLWUT: Schotter (5) and a skyline (6) with random parts; other versions name the server."""
    embedded, real = pair(protocol=protocol)
    for client in (embedded, real):
        client.response_callbacks.clear()

    def both(*args: object) -> tuple[Any, Any]:
        return run(embedded, "LOLWUT", *args), run(real, "LOLWUT", *args)

    def text(reply: Any) -> bytes:
        return reply if isinstance(reply, bytes) else str(reply).encode()

    for args in [(), ("VERSION", 7), ("VERSION", 8), ("VERSION", -1), ("VERSION", "x"), ("VERSION",), (10,),
                 ("VERSION", 5, "x"), ("VERSION", 6, 1, "y")]:
        ours, theirs = both(*args)
        assert ours == theirs, args
    for args in [("VERSION", 5), ("VERSION", 5, 10, 2, 1), ("VERSION", 5, 0, 1, 1), ("VERSION", 5, 30, 3, 2)]:
        ours, theirs = (text(reply).split(b"\n") for reply in both(*args))
        assert [len(line) for line in ours] == [len(line) for line in theirs], args
        assert ours[:3] == theirs[:3] and ours[-2:] == theirs[-2:], args  # the top rows are not random
    for args in [("VERSION", 6), ("VERSION", 6, 20, 5), ("VERSION", 6, 1, 1)]:
        ours, theirs = (text(reply).split(b"\n") for reply in both(*args))
        assert [line.count(b"\033[0m") for line in ours] == [line.count(b"\033[0m") for line in theirs], args
        assert ours[-3:] == theirs[-3:] if args[2:] == (1, 1) else ours[-2:] == theirs[-2:], args


# -- WAIT (no replicas: none ever acknowledges) ------------------------------------------------------

@pytest.mark.parametrize("args", [("0", "0"), ("0", "100"), ("-3", "5"), ("1", "-1"), ("x", "1"), ("1", "1.5"), ("1", "x"), ("1",)])
def test_wait_answers_and_errors(pair, args: tuple[str, ...]) -> None:
    embedded, real = pair()
    assert run(embedded, "WAIT", *args) == run(real, "WAIT", *args)


def test_wait_for_a_replica_blocks_until_its_timeout(make_client) -> None:
    client = make_client()
    started = time.monotonic()
    assert client.execute_command("WAIT", 1, 150) == 0
    assert time.monotonic() - started >= 0.14


def test_wait_in_multi_answers_at_once_and_scripts_may_not_call_it(make_client) -> None:
    client = make_client()
    with client.pipeline() as tx:
        tx.execute_command("WAIT", 1, 0)
        started = time.monotonic()
        assert tx.execute() == [0]
    assert time.monotonic() - started < 1
    assert run(client, "EVAL", "return redis.call('WAIT', 1, 0)", 0)[0] == "error"


def test_client_unblock_ends_a_wait(make_client) -> None:
    import threading

    waiting, admin = make_client(), make_client()
    ids: list[int] = []
    replies: list[Any] = []

    def wait() -> None:
        ids.append(waiting.client_id())  # (in the thread: an embedded client has a connection per thread)
        replies.append(waiting.execute_command("WAIT", 1, 0))

    thread = threading.Thread(target=wait)
    thread.start()
    deadline = time.monotonic() + 5
    while admin.info("clients")["blocked_clients"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert admin.client_unblock(ids[0]) == 1
    thread.join(5)
    assert replies == [0]

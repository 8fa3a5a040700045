"""MODULE and FAILOVER on a server without modules or replicas, on both backends."""

from __future__ import annotations

import pytest
import redis
from tests.helpers import raw_client, run

MODULE_NOT_ALLOWED = (
    'MODULE command not allowed. If the enable-module-command option is set to "local", you can run it '
    "from a local connection, otherwise you need to set this option in the configuration file, and then "
    "restart the server."
)


@pytest.fixture
def raw(make_client) -> redis.Redis:
    """A RESP2 client without response callbacks."""
    return raw_client(make_client)


def test_module_list_and_help(raw: redis.Redis) -> None:
    assert run(raw, "MODULE", "LIST") == []
    help_lines = run(raw, "MODULE", "HELP")
    assert help_lines[0] == b"MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_lines[-2:] == [b"HELP", b"    Prints this help."]
    assert len(help_lines) == 11


@pytest.mark.parametrize(
    ("args", "reply"),
    [
        (("MODULE", "LOAD", "/no/such.so"), MODULE_NOT_ALLOWED),
        (("MODULE", "LOADEX", "/no/such.so", "CONFIG", "a", "b"), MODULE_NOT_ALLOWED),
        (("MODULE", "UNLOAD", "nosuch"), MODULE_NOT_ALLOWED),
        (("MODULE", "LOAD"), "wrong number of arguments for 'module|load' command"),
        (("MODULE", "UNLOAD", "a", "b"), "wrong number of arguments for 'module|unload' command"),
        (("MODULE", "NOSUCH"), "unknown subcommand 'NOSUCH'. Try MODULE HELP."),
        (("FAILOVER",), "FAILOVER requires connected replicas."),
        (("FAILOVER", "ABORT"), "No failover in progress."),
        (("FAILOVER", "TO", "host", "1", "FORCE", "TIMEOUT", "10"), "FAILOVER requires connected replicas."),
        (("FAILOVER", "FORCE"), "FAILOVER requires connected replicas."),
        (("FAILOVER", "TO", "host"), "syntax error"),
        (("FAILOVER", "TIMEOUT", "1", "TIMEOUT", "2"), "syntax error"),
        (("FAILOVER", "ABORT", "TIMEOUT", "2"), "syntax error"),
        (("FAILOVER", "TIMEOUT", "-1"), "FAILOVER timeout must be greater than 0"),
        (("FAILOVER", "TIMEOUT", "x"), "value is not an integer or out of range"),
        (("FAILOVER", "TO", "host", "port"), "value is not an integer or out of range"),
    ],
)
def test_module_and_failover_errors(raw: redis.Redis, args: tuple[str, ...], reply: str) -> None:
    assert run(raw, *args) == ("error", reply)


def test_command_info_and_count(raw: redis.Redis) -> None:
    info = run(raw, "COMMAND", "INFO", "failover", "module|list", "module|load")
    assert info[0][:3] == [b"failover", -1, [b"admin", b"noscript", b"stale"]]
    assert info[1][:3] == [b"module|list", 2, [b"admin", b"noscript"]]
    assert info[2][:3] == [b"module|load", -3, [b"admin", b"noscript", b"no_async_loading"]]
    names = set(run(raw, "COMMAND", "LIST"))
    assert {b"module", b"module|loadex", b"failover"} <= names


# The replication commands come with the replication issue; everything else of Redis 7.0 is there.
REPLICATION = {b"psync", b"replconf", b"replicaof", b"slaveof", b"sync"}
# The commands of a connection that the TCP server adds to the engine's table (redpocket serve).
SERVER_ONLY = {b"monitor", b"shutdown"}


def test_command_list_is_redis_7_0_but_replication(pair) -> None:
    embedded, real = pair(protocol=2)
    for client in (embedded, real):
        client.response_callbacks.clear()
    ours = set(embedded.execute_command("COMMAND", "LIST"))
    theirs = set(real.execute_command("COMMAND", "LIST"))
    assert theirs - ours == REPLICATION | SERVER_ONLY
    assert all(b"." in name for name in ours - theirs)  # (our own extensions, such as redpocket.restore)

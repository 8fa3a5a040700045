"""Streams over sockets: blocking reads (wake-ups, arrival order, errors, wire format) and the differential suite.

The differential test sends the stream command sequences of
``tests/engine/test_differential_streams.py`` to a redpocket server and to
redis-server, both over TCP, so replies also go through the server's
parser and its RESP2/RESP3 encoder (null arrays nested in XPENDING and
XREADGROUP replies included).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_helpers import Raw
from tests.conftest import SERVER_SETTINGS, RedisServer
from tests.engine.test_differential_streams import ALL_COMMANDS, EXAMPLES, NODE_SETTINGS, outcome
from tests.helpers import wait_blocked

from redpocket.engine import Engine
from redpocket.server import Server

TCP_EXAMPLES = max(1, EXAMPLES * 3 // 10)


def test_xread_block_wakes_on_xadd_with_exact_bytes(server, client) -> None:
    client.xadd("s", {"a": "1"}, id="1-0")
    reader = Raw(server.port)
    reader.send(b"XREAD BLOCK 0 STREAMS s $\r\n")
    wait_blocked(client)
    assert client.ping() is True
    client.xadd("s", {"b": "2"}, id="2-0")
    expected = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert reader.recv_exact(len(expected)) == expected
    reader.close()


def test_xread_block_timeout_is_a_null_array(server) -> None:
    reader = Raw(server.port)
    reader.send(b"XREAD BLOCK 50 STREAMS s 0\r\n")
    assert reader.recv_exact(5) == b"*-1\r\n"
    reader.send(b"HELLO 3\r\n")
    reader.read_for(0.2)
    reader.send(b"XREAD BLOCK 50 STREAMS s 0\r\n")
    assert reader.recv_exact(3) == b"_\r\n"
    reader.close()


def test_group_readers_are_served_first_come_first_served(server, client) -> None:
    client.xgroup_create("s", "g", id="$", mkstream=True)
    readers = []
    for name in (b"a", b"b", b"c"):
        reader = Raw(server.port)
        reader.send(b"XREADGROUP GROUP g %s COUNT 1 BLOCK 0 STREAMS s >\r\n" % name)
        readers.append(reader)
        wait_blocked(client, len(readers))
    for ms in (1, 2, 3):
        client.xadd("s", {"n": ms}, id=f"{ms}-0")
    for ms, reader in zip((1, 2, 3), readers, strict=True):
        expected = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n%d-0\r\n*2\r\n$1\r\nn\r\n$1\r\n%d\r\n" % (ms, ms)
        assert reader.recv_exact(len(expected)) == expected
        reader.close()
    pending = client.xpending_range("s", "g", "-", "+", 10)
    assert [(p["message_id"], p["consumer"]) for p in pending] == [(b"1-0", b"a"), (b"2-0", b"b"), (b"3-0", b"c")]


def test_deleting_the_stream_unblocks_group_readers_with_an_error(server, client) -> None:
    client.xgroup_create("s", "g", id="$", mkstream=True)
    reader = Raw(server.port)
    reader.send(b"XREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\n")
    wait_blocked(client)
    client.delete("s")
    expected = b"-UNBLOCKED the stream key no longer exists\r\n"
    assert reader.recv_exact(len(expected)) == expected
    reader.close()


def test_flushall_unblocks_group_readers_with_an_error(server, client) -> None:
    client.xgroup_create("s", "g", id="$", mkstream=True)
    reader = Raw(server.port)
    reader.send(b"XREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\n")
    wait_blocked(client)
    client.flushall()
    expected = b"-UNBLOCKED the stream key no longer exists\r\n"
    assert reader.recv_exact(len(expected)) == expected
    reader.close()


@pytest.mark.parametrize("swapped_in", [None, b"RPUSH s e1\r\n"])
def test_swapdb_unblocks_group_readers_with_an_error(server, client, swapped_in: bytes | None) -> None:
    other = Raw(server.port)
    other.send(b"SELECT 1\r\n" + (swapped_in or b""))
    other.read_for(0.2)
    client.xgroup_create("s", "g", id="$", mkstream=True)
    reader = Raw(server.port)
    reader.send(b"XREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\n")
    wait_blocked(client)
    client.swapdb(0, 1)
    expected = b"-UNBLOCKED the stream key no longer exists\r\n"
    assert reader.recv_exact(len(expected)) == expected
    reader.close()
    other.close()


def test_swapdb_serves_a_list_pop_from_any_key_of_the_other_database(server, client) -> None:
    other = Raw(server.port)
    other.send(b"SELECT 1\r\nMSET a 1 b 2\r\nRPUSH k v\r\n")
    other.read_for(0.2)
    reader = Raw(server.port)
    reader.send(b"BLPOP k 0\r\n")
    wait_blocked(client)
    client.swapdb(0, 1)
    expected = b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert reader.recv_exact(len(expected)) == expected
    reader.close()
    other.close()


def test_plain_readers_keep_waiting_when_the_key_turns_into_a_string(server, client) -> None:
    reader = Raw(server.port)
    reader.send(b"XREAD BLOCK 0 STREAMS s 0\r\n")
    wait_blocked(client)
    client.set("s", "x")
    assert reader.read_for(0.2) == b""
    client.delete("s")
    client.xadd("s", {"f": "v"}, id="1-0")
    expected = b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert reader.recv_exact(len(expected)) == expected
    reader.close()


@pytest.fixture(scope="module")
def pocket() -> Iterator[Server]:
    """One redpocket server for the module, configured as the real server is."""
    with Server(port=0, engine=Engine(config=SERVER_SETTINGS)).run_in_thread() as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("protocol", [2, 3])
@settings(max_examples=TCP_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=bool(os.environ.get("CI")))
@given(commands=st.lists(ALL_COMMANDS, min_size=1, max_size=30))
def test_stream_sequences_over_tcp_match_redis(pocket: Server, redis_server: RedisServer, protocol: int,
                                              commands: list[list[bytes]]) -> None:
    ours = redis.Redis(port=pocket.port, socket_timeout=10, protocol=protocol)
    real = redis_server.client(socket_timeout=10, protocol=protocol)
    try:
        for client in (ours, real):
            client.response_callbacks = {}
            client.flushall()
            for name, setting in NODE_SETTINGS.items():
                client.config_set(name, setting)
        for argv in commands:
            expected = outcome(real, argv)
            got = outcome(ours, argv)
            assert got == expected, f"{argv!r}: redpocket {got!r} != redis {expected!r}"
    finally:
        real.config_set("stream-node-max-entries", "100")
        real.config_set("stream-node-max-bytes", "4096")
        ours.close()
        real.close()

"""Authentication, protected mode and the limits: each with Redis's error and Redis's closing."""

from __future__ import annotations

import socket
import time

import pytest
import redis
from server_helpers import Raw


def test_requirepass(make_server) -> None:
    server = make_server(requirepass="pw")
    conn = Raw(server.port)
    conn.send(b"PING\r\nHGET a b\r\nAUTH x\r\nAUTH pw\r\nPING\r\n")
    expected = (b"-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n"
                b"-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+PONG\r\n")
    assert conn.recv_exact(len(expected)) == expected
    assert redis.Redis(port=server.port, password="pw").ping() is True
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=server.port).ping()


def test_hello_before_auth(make_server) -> None:
    server = make_server(requirepass="pw")
    conn = Raw(server.port)
    conn.send(b"HELLO 3\r\n")
    assert conn.read_for(0.3).startswith(b"-NOAUTH HELLO must be called with the client already authenticated")
    conn.send(b"HELLO 3 AUTH default pw\r\n")
    assert conn.read_for(0.3).startswith(b"%7\r\n")
    assert redis.Redis(port=server.port, password="pw", protocol=3).ping() is True


@pytest.mark.parametrize(("payload", "expected"), [
    (b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
    (b"*1\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n"),
])
def test_unauthenticated_lengths(make_server, payload: bytes, expected: bytes) -> None:
    server = make_server(requirepass="pw")
    conn = Raw(server.port)
    conn.send(payload)
    assert conn.read_for(0.5) == expected + b"<EOF>"


def test_maxclients(make_server) -> None:
    server = make_server(maxclients=3)
    kept = [Raw(server.port) for _ in range(3)]
    for conn in kept:
        assert conn.roundtrip(b"PING\r\n", b"+PONG\r\n") == b"+PONG\r\n"
    extra = Raw(server.port)
    assert extra.read_for(0.5) == b"-ERR max number of clients reached\r\n<EOF>"
    kept[0].close()
    time.sleep(0.1)
    assert Raw(server.port).roundtrip(b"PING\r\n", b"+PONG\r\n") == b"+PONG\r\n"


def _outside_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else str(address)


def test_protected_mode_refuses_non_loopback_clients(make_server) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("no non-loopback interface")
    server = make_server(host="0.0.0.0")
    conn = Raw(server.port, host=address)
    reply = conn.read_for(0.5)
    assert reply.startswith(b"-DENIED Redis is running in protected mode because protected mode is enabled")
    assert reply.endswith(b"accepting connections from the outside.\r\n<EOF>")
    assert Raw(server.port).roundtrip(b"PING\r\n", b"+PONG\r\n") == b"+PONG\r\n"
    protected = make_server(host="0.0.0.0", requirepass="pw")
    assert Raw(protected.port, host=address).roundtrip(b"AUTH pw\r\n", b"+OK\r\n") == b"+OK\r\n"


def test_binds_loopback_by_default(server) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("no non-loopback interface")
    with pytest.raises(OSError):
        socket.create_connection((address, server.port), timeout=1)


def test_query_buffer_limit_closes_without_reply(make_server) -> None:
    server = make_server(config={"client-query-buffer-limit": "1mb"})
    conn = Raw(server.port)
    conn.send(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n")
    try:
        for _ in range(40):
            conn.send(b"x" * 65536)
    except OSError:
        pass
    assert conn.read_for(0.5) in (b"<EOF>", b"")
    assert redis.Redis(port=server.port).ping() is True


def test_declared_huge_bulk_then_disconnect(server, client) -> None:
    conn = Raw(server.port)
    conn.send(b"*2\r\n$4\r\nECHO\r\n$2000000000\r\n")
    assert conn.read_for(0.3) == b"-ERR Protocol error: invalid bulk length\r\n<EOF>"
    half = Raw(server.port)
    half.send(b"*3\r\n$4\r\nHSET\r\n$1\r\nh")
    half.close()
    assert client.ping() is True


def test_client_kill_closes_the_socket(server, client) -> None:
    victim = Raw(server.port)
    victim.send(b"CLIENT ID\r\n")
    reply = victim.read_for(0.3)
    victim_id = int(reply[1:-2])
    assert client.client_kill_filter(_id=victim_id) == 1
    assert victim.read_for(0.5) == b"<EOF>"
    me = Raw(server.port)
    me.send(b"CLIENT KILL SKIPME no ID %d\r\n" % int(client.client_id()))
    assert me.read_for(0.3) == b":1\r\n"


def test_shutdown_stops_the_server(make_server) -> None:
    server = make_server()
    conn = Raw(server.port)
    conn.send(b"SHUTDOWN NOSAVE\r\n")
    assert conn.read_for(1) == b"<EOF>"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).recv(1)

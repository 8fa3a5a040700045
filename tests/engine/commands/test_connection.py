"""Connection commands on both backends."""

from __future__ import annotations

import pytest
import redis


def test_ping_and_echo(r: redis.Redis) -> None:
    assert r.ping() is True
    assert r.echo(b"hello") == b"hello"
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'ping' command"):
        r.execute_command("PING", "a", "b")


def test_select_out_of_range(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 16)
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.execute_command("SELECT", "x")


def test_hello_switches_protocol(make_client) -> None:
    client = make_client(protocol=2)
    reply = client.execute_command("HELLO", 3)
    assert reply[b"proto"] == 3 and reply[b"server"] == b"redis"
    with pytest.raises(redis.ResponseError, match="unsupported protocol version"):
        client.execute_command("HELLO", 4)


def test_client_name(make_client) -> None:
    client = make_client(client_name="worker-1", decode_responses=True)
    assert client.client_getname() == "worker-1"
    with pytest.raises(redis.ResponseError, match="Client names cannot contain spaces"):
        client.client_setname("has space")
    assert isinstance(client.client_id(), int)
    assert any(c["name"] == "worker-1" for c in client.client_list())


def test_unknown_command_error(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError) as info:
        r.execute_command("NOSUCHCMD", "a", "b")
    assert str(info.value) == "unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "


def test_unknown_subcommand_error(r: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError) as info:
        r.execute_command("CLIENT", "NOPE")
    assert str(info.value) == "unknown subcommand 'NOPE'. Try CLIENT HELP."


def test_auth_without_password(r: redis.Redis) -> None:
    with pytest.raises(redis.AuthenticationError, match="without any password configured"):
        r.execute_command("AUTH", "secret")


def test_client_kill_options_and_errors(make_client) -> None:
    from tests.helpers import run

    r = make_client()
    for value in ("-1", "0", "x"):
        assert run(r, "CLIENT", "KILL", "ID", value) == ("error", "client-id should be greater than 0")
    assert run(r, "CLIENT", "KILL", "TYPE", "foo") == ("error", "Unknown client type 'foo'")
    assert run(r, "CLIENT", "KILL", "SKIPME", "maybe") == ("error", "syntax error")
    assert run(r, "CLIENT", "KILL", "MAXAGE", "5") == ("error", "syntax error")
    assert run(r, "CLIENT", "KILL", "LADDR", "10.1.1.1:1") == 0
    assert run(r, "CLIENT", "KILL", "ID", "99999") == 0
    assert run(r, "CLIENT", "KILL", "ID", str(r.client_id())) == 0  # SKIPME defaults to yes
    subscriber = make_client().pubsub()
    subscriber.ssubscribe("x")
    subscriber.get_sharded_message(timeout=1)
    listed = r.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    listed = listed if isinstance(listed, list) else [listed]
    assert len(listed) == 1 and "ssub=1" in str(listed[0]) and "cmd=ssubscribe" in str(listed[0])
    assert run(r, "CLIENT", "KILL", "TYPE", "pubsub") == 1
    assert run(r, "CLIENT", "KILL", "TYPE", "pubsub") == 0


def test_client_help_and_info_match_redis(pair) -> None:
    embedded, real = pair()
    assert embedded.execute_command("CLIENT", "HELP") == real.execute_command("CLIENT", "HELP")
    for client in (embedded, real):
        client.response_callbacks.clear()
        assert b" cmd=client|info " in client.execute_command("CLIENT", "INFO")

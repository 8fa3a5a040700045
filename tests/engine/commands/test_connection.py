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

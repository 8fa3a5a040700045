"""ACL users over TCP: logging in with redis-py and redis-cli, NOPERM bytes, the hot path sending restricted clients to the checks."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from server_helpers import Raw

GREETING_END = b"$7\r\nmodules\r\n*0\r\n"


def test_redis_py_logs_in_as_an_acl_user(server) -> None:
    admin = redis.Redis(port=server.port)
    assert admin.execute_command("ACL", "SETUSER", "u", "on", ">p", "+@all", "-flushall", "~*", "&*") == b"OK"
    for protocol in (2, 3):
        user = redis.Redis(port=server.port, username="u", password="p", protocol=protocol)
        assert user.execute_command("ACL", "WHOAMI") == b"u"
        assert user.set("k", "v") is True
        with pytest.raises(redis.exceptions.NoPermissionError, match="no permissions to run the 'flushall' command"):
            user.flushall()
        assert b"user=u" in user.execute_command("CLIENT", "INFO")
        user.close()
    wrong = redis.Redis(port=server.port, username="u", password="x", retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        wrong.ping()
    assert admin.get("k") == b"v"


def test_noperm_bytes(server) -> None:
    redis.Redis(port=server.port).execute_command("ACL", "SETUSER", "u", "on", ">p", "+get", "+publish", "~k*", "&ch*")
    conn = Raw(server.port)
    # One write: AUTH switches the user, and the commands after it in the same read are checked.
    conn.send(b"AUTH u p\r\nSET k v\r\nGET x\r\nGET k\r\nPUBLISH zz m\r\nCONFIG GET x\r\n")
    expected = (b"+OK\r\n-NOPERM this user has no permissions to run the 'set' command\r\n"
                b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n$-1\r\n"
                b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
                b"-NOPERM this user has no permissions to run the 'config|get' command\r\n")
    assert conn.recv_exact(len(expected)) == expected


def test_hello_auth_and_getuser_resp3(server) -> None:
    redis.Redis(port=server.port).execute_command("ACL", "SETUSER", "u", "on", ">p", "+get", "~k*", "&ch*")
    conn = Raw(server.port)
    conn.send(b"HELLO 3 AUTH u q\r\n")
    assert conn.read_for(0.3) == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    conn.send(b"HELLO 3 AUTH u p\r\nACL WHOAMI\r\n")
    reply = conn.read_for(0.3)
    assert reply.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")
    assert reply.endswith(GREETING_END + b"-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n")
    admin = Raw(server.port)
    admin.send(b"HELLO 3\r\nACL GETUSER u\r\n")
    expected = (b"%6\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n$9\r\npasswords\r\n*1\r\n$64\r\n"
                b"148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940\r\n$8\r\ncommands\r\n$10\r\n"
                b"-@all +get\r\n$4\r\nkeys\r\n$3\r\n~k*\r\n$8\r\nchannels\r\n$4\r\n&ch*\r\n$9\r\nselectors\r\n*0\r\n")
    assert admin.read_for(0.3).endswith(GREETING_END + expected)


def test_restricted_clients_leave_the_hot_path(server) -> None:
    admin = redis.Redis(port=server.port)
    for _ in range(3):  # (GET and SET are now known spellings the hot path runs itself)
        admin.set("secret", "s")
        admin.get("secret")
    admin.execute_command("ACL", "SETUSER", "u", "on", "nopass", "+@all", "~k*")
    conn = Raw(server.port)
    conn.send(b"AUTH u x\r\nGET secret\r\nGET secret\r\nSET secret x\r\nGET k\r\n")
    expected = (b"+OK\r\n" + b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n" * 3
                + b"$-1\r\n")
    assert conn.recv_exact(len(expected)) == expected
    # A restriction of the default user reaches its open connections at their next read.
    other = Raw(server.port)
    assert other.roundtrip(b"GET secret\r\n", b"$1\r\ns\r\n") == b"$1\r\ns\r\n"
    admin.execute_command("ACL", "SETUSER", "default", "-get")
    denied = b"-NOPERM this user has no permissions to run the 'get' command\r\n"
    assert other.roundtrip(b"GET secret\r\n", denied) == denied
    admin.execute_command("ACL", "SETUSER", "default", "+get")
    assert other.roundtrip(b"GET secret\r\n", b"$1\r\ns\r\n") == b"$1\r\ns\r\n"


def test_requirepass_and_acl_users(make_server) -> None:
    server = make_server(requirepass="pw")
    admin = redis.Redis(port=server.port, password="pw")
    admin.execute_command("ACL", "SETUSER", "u", "on", ">p", "+@all", "~*")
    assert admin.execute_command("ACL", "LIST")[0].startswith(b"user default on #")
    conn = Raw(server.port)
    conn.send(b"GET k\r\nAUTH u p\r\nACL WHOAMI\r\nRESET\r\nGET k\r\nAUTH pw\r\nACL WHOAMI\r\n")
    expected = (b"-NOAUTH Authentication required.\r\n+OK\r\n$1\r\nu\r\n+RESET\r\n"
                b"-NOAUTH Authentication required.\r\n+OK\r\n$7\r\ndefault\r\n")
    assert conn.recv_exact(len(expected)) == expected
    assert redis.Redis(port=server.port, username="u", password="p").execute_command("ACL", "WHOAMI") == b"u"


def test_default_user_off_requires_auth(server) -> None:
    admin = redis.Redis(port=server.port)
    admin.execute_command("ACL", "SETUSER", "u", "on", ">p", "+@all", "~*", "&*")
    admin.execute_command("ACL", "SETUSER", "default", "off")
    conn = Raw(server.port)
    expected = b"-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n"
    assert conn.roundtrip(b"PING\r\nAUTH u p\r\nPING\r\n", expected) == expected
    assert admin.ping() is True  # (connected before: still the default user)


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_user_and_pass(server) -> None:
    redis.Redis(port=server.port).execute_command("ACL", "SETUSER", "cli", "on", ">secret", "+@all", "~*")
    done = subprocess.run(
        ["redis-cli", "-p", str(server.port), "--user", "cli", "--pass", "secret", "--no-auth-warning", "ACL", "WHOAMI"],
        capture_output=True, timeout=10, check=True)
    assert done.stdout == b"cli\n"
    refused = subprocess.run(
        ["redis-cli", "-p", str(server.port), "--user", "cli", "--pass", "nope", "--no-auth-warning", "PING"],
        capture_output=True, timeout=10)
    assert b"WRONGPASS" in refused.stdout + refused.stderr


def test_deluser_closes_the_users_connections_at_once(server) -> None:
    admin = Raw(server.port)
    assert admin.roundtrip(b"ACL SETUSER bob on >pw +@all ~*\r\n", b"+OK\r\n") == b"+OK\r\n"
    bob = Raw(server.port)
    assert bob.roundtrip(b"AUTH bob pw\r\n", b"+OK\r\n") == b"+OK\r\n"
    assert admin.roundtrip(b"ACL DELUSER bob\r\n", b":1\r\n") == b":1\r\n"
    assert bob.read_for(0.5) == b"<EOF>"  # closed without waiting for bob's next request
    assert admin.roundtrip(b"PING\r\n", b"+PONG\r\n") == b"+PONG\r\n"
    admin.close()
    bob.close()

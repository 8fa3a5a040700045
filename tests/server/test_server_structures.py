"""Custom structures (the Memo API) served over TCP: ``Server.add_structure`` and ``--load``."""

from __future__ import annotations

import collections

import pytest
import redis

from redpocket.engine import Structure, command
from redpocket.server import Server


class Fifo(Structure):
    type_name = "fifo"

    def __init__(self) -> None:
        self.items: collections.deque[bytes] = collections.deque()

    @command("FIFOADD", creates=True, arity=-3)
    def add(self, *values: bytes) -> int:
        self.items.extend(values)
        return len(self.items)

    @command("FIFOPOP")
    def pop(self) -> bytes | None:
        return self.items.popleft() if self.items else None


def test_add_structure_over_tcp() -> None:
    server = Server(port=0)
    server.add_structure(Fifo)
    with server.run_in_thread():
        client = redis.Redis(port=server.port)
        assert client.execute_command("FIFOADD", "q", "a", "b") == 2
        assert client.type("q") == b"fifo"
        assert client.execute_command("FIFOPOP", "q") == b"a"
        client.hset("h", "f", "v")
        try:
            client.execute_command("FIFOPOP", "h")
        except redis.ResponseError as error:
            assert str(error).startswith("WRONGTYPE")
        else:
            raise AssertionError("WRONGTYPE expected")


def test_server_actions_work_on_a_server_with_a_structure(make_server, tmp_path) -> None:
    """RESET, CLIENT KILL, ACL DELUSER and ACL LOAD keep their replies when a structure is added (once, or twice)."""
    acl_file = tmp_path / "users.acl"
    acl_file.write_text("user default on nopass ~* &* +@all\n")
    server = make_server(structures=[Fifo])
    server.engine.config.set("aclfile", str(acl_file))
    server.add_structure(Fifo)  # a second registration changes nothing in how commands run
    client = redis.Redis(port=server.port, socket_timeout=10)
    victim = redis.Redis(port=server.port, socket_timeout=10)
    try:
        assert client.execute_command("FIFOADD", "q", "a") == 1
        assert client.execute_command("RESET") in ("RESET", b"RESET")
        victim.client_setname("victim")
        victim_id = victim.client_id()
        assert client.execute_command("CLIENT", "KILL", "ID", victim_id) == 1
        assert client.execute_command("ACL", "SETUSER", "bob", "on", "nopass", "+@all", "~*") == b"OK"
        bob = redis.Redis(port=server.port, username="bob", password="x", socket_timeout=10)
        assert bob.ping() is True
        assert client.execute_command("ACL", "DELUSER", "bob") == 1
        with pytest.raises(redis.RedisError):  # its connection was closed, and bob cannot log in again
            bob.ping()
        assert client.execute_command("ACL", "LOAD") == b"OK"
        assert client.execute_command("QUIT") is True
    finally:
        client.close()
        victim.close()

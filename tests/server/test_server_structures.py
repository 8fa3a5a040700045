"""Custom structures (the Memo API) served over TCP: ``Server.add_structure`` and ``--load``."""

from __future__ import annotations

import collections

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

"""Memo's FIFO: a first-in first-out queue as a server-side data structure.

Run it embedded::

    python examples/fifo.py

or serve it to any Redis client (``FIFOADD q 42`` in redis-cli)::

    from redpocket.server import Server
    server = Server(port=6380, dir="./data")
    server.add_structure(FIFO)
    server.start()
"""

from __future__ import annotations

from collections import deque

from redpocket.engine import Structure, command
from redpocket.engine.structures import pack, unpack


class FIFO(Structure):
    """A queue of byte strings: add at the back, pop from the front."""

    type_name = "fifo"

    def __init__(self) -> None:
        self.items: deque[bytes] = deque()

    def __len__(self) -> int:
        # An empty FIFO is deleted, as Redis deletes an empty list.
        return len(self.items)

    @command("FIFOADD", creates=True, arity=-3)
    def add(self, *values: bytes) -> int:
        """FIFOADD key value [value ...]: append values; reply with the new length."""
        self.items.extend(values)
        return len(self.items)

    @command("FIFOPOP", arity=2)
    def pop(self) -> bytes:
        """FIFOPOP key: remove and reply with the oldest value (nil when the key is missing)."""
        return self.items.popleft()

    @command("FIFOLEN", flags="readonly fast", missing=0)
    def length(self) -> int:
        """FIFOLEN key: reply with the number of values (0 when the key is missing)."""
        return len(self.items)

    def dump(self) -> bytes:
        """Return the values, length-prefixed, for snapshots and AOF rewrites."""
        return pack(self.items)

    @classmethod
    def load(cls, data: bytes) -> FIFO:
        """Rebuild a FIFO from :meth:`dump`'s bytes."""
        fifo = cls()
        fifo.items.extend(unpack(data))
        return fifo


if __name__ == "__main__":
    import redpocket

    client = redpocket.connect(structures=[FIFO])
    client.execute_command("FIFOADD", "task queue", 42, 43)
    print(client.execute_command("FIFOPOP", "task queue"))  # b'42'
    print(client.type("task queue"))  # b'fifo'

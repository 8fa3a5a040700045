"""The reply a blocking command gives when it must wait for data, and the queues of who waits for which key."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any


class Block:
    """Returned by a handler (BLPOP ...) that found no data and may wait.

    ``keys`` are the keys whose change should retry the command, ``timeout``
    the wait in seconds (``0`` waits forever) and ``timeout_reply`` what the
    client gets when the time is up.
    """

    __slots__ = ("keys", "timeout", "timeout_reply")

    def __init__(self, keys: list[bytes], timeout: float, timeout_reply: Any) -> None:
        self.keys = keys
        self.timeout = timeout
        self.timeout_reply = timeout_reply

    def __repr__(self) -> str:
        return f"Block(keys={self.keys!r}, timeout={self.timeout!r})"


WaitQueues = dict[Any, dict[Any, None]]
"""Who waits for each key, in arrival order (a dict used as an ordered set): the TCP server's and the asyncio clients'."""


def join_queues(queues: WaitQueues, waiter: Hashable, keys: Iterable[Any]) -> None:
    """Queue ``waiter`` behind each of ``keys``."""
    for key in keys:
        queues.setdefault(key, {})[waiter] = None


def leave_queues(queues: WaitQueues, waiter: Hashable, keys: Iterable[Any]) -> None:
    """Take ``waiter`` out of the queues of ``keys``, dropping the queues it leaves empty."""
    for key in keys:
        waiting = queues.get(key)
        if waiting is not None:
            waiting.pop(waiter, None)
            if not waiting:
                del queues[key]

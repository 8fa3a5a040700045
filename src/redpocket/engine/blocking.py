"""The reply a blocking command gives when it must wait for data."""

from __future__ import annotations

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

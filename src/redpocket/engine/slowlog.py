"""The slow log: commands that ran for ``slowlog-log-slower-than`` microseconds or longer (Redis's slowlog.c).

Whoever dispatches a client's command times it and calls
:meth:`SlowLog.record` when it took at least ``Config.slowlog_seconds``
(kept up to date by CONFIG SET): :meth:`Engine.execute_locked <redpocket.engine.Engine.execute_locked>`
for embedded clients and the TCP server's general path, the server's hot path
for the rest, ``EXEC`` for each queued command (``EXEC`` itself carries
``skip-slowlog``).  Commands a script runs are not logged, as in Redis.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .config import Config
    from .session import Session

MAX_ARGC: Final = 32  # SLOWLOG_ENTRY_MAX_ARGC
MAX_STRING: Final = 128  # SLOWLOG_ENTRY_MAX_STRING
# Arguments Redis replaces with "(redacted)" (redactClientCommandArgument).
_REDACTED: Final = b"(redacted)"


def _redact(argv: list[bytes]) -> list[bytes]:
    """Hide passwords as Redis does: every AUTH argument, HELLO's ``AUTH user pass``."""
    name = argv[0].lower()
    if name == b"auth":
        return argv[:1] + [_REDACTED] * (len(argv) - 1)
    if name == b"hello":
        hidden = list(argv)
        for index in range(2, len(argv) - 2):
            if argv[index].lower() == b"auth":
                hidden[index + 1] = hidden[index + 2] = _REDACTED
        return hidden
    return argv


def _entry_args(argv: list[bytes]) -> list[bytes]:
    """Keep at most 32 arguments of at most 128 bytes each, saying how much was left out."""
    argv = _redact(argv)
    kept = argv[:MAX_ARGC]
    if len(argv) > MAX_ARGC:
        kept[-1] = b"... (%d more arguments)" % (len(argv) - MAX_ARGC + 1)
    return [arg if len(arg) <= MAX_STRING else arg[:MAX_STRING] + b"... (%d more bytes)" % (len(arg) - MAX_STRING)
            for arg in kept]


class SlowLog:
    """The newest ``slowlog-max-len`` slow commands of one engine."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.entries: deque[list[Any]] = deque()
        self.next_id = 0

    def record(self, session: Session, argv: list[bytes], seconds: float) -> None:
        """Log one command that ran for ``seconds`` (at least ``slowlog-log-slower-than``)."""
        self.entries.appendleft([
            self.next_id, int(time.time()), int(seconds * 1e6), _entry_args(argv),
            session.address.encode(), session.name,
        ])
        self.next_id += 1
        limit = self.config.get_int("slowlog-max-len")
        while len(self.entries) > limit:
            self.entries.pop()

    def reset(self) -> None:
        """Forget every entry (the ids go on counting)."""
        self.entries.clear()

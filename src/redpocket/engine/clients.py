"""Client state the engine keeps: CLIENT PAUSE's :class:`Pause`, the CLIENT LIST line (Redis's pauseClients, unblockClient).

The CLIENT PAUSE / UNPAUSE / UNBLOCK handlers live in ``commands/connection.py``.

A pause holds back, until it ends, every command (``ALL``) or every command
that writes or may replicate (``WRITE``: writes, ``EVAL``, ``PUBLISH``,
``PFCOUNT``, an ``EXEC`` whose queue writes ...) that a client sends; the
dispatcher asks :meth:`Pause.holds` before running a command and waits: an
embedded client's thread on the engine's condition, a TCP client parked by
the server.  ``CLIENT UNBLOCK`` ends the wait of a client blocked in
``BLPOP`` and its kin, as a timeout or with an ``UNBLOCKED`` error.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from .pubsub import hub
from .replies import ReplyError

if TYPE_CHECKING:
    from .engine import Engine
    from .registry import CommandSpec
    from .session import Session

UNBLOCKED: Final = ReplyError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
# Redis 7.0's CMD_MAY_REPLICATE commands (COMMAND INFO does not show that flag).
MAY_REPLICATE: Final = frozenset(
    {"eval", "evalsha", "fcall", "pfcount", "publish", "spublish", "script|load", "script|flush"}
)


def _writes(spec: CommandSpec) -> bool:
    return spec.write or spec.fullname in MAY_REPLICATE


class Pause:
    """The CLIENT PAUSE state of one engine: until when, and whether reads wait too."""

    __slots__ = ("everything", "until")

    def __init__(self) -> None:
        self.until = 0.0  # time.monotonic() when the pause ends; 0 when there is none
        self.everything = False

    def start(self, seconds: float, everything: bool) -> None:
        """Pause for ``seconds``; a pause already on keeps its later end and its stricter mode."""
        if not self.active():
            self.everything = everything
        else:
            self.everything = self.everything or everything
        self.until = max(self.until, time.monotonic() + seconds)

    def stop(self) -> None:
        """End the pause now."""
        self.until = 0.0
        self.everything = False

    def active(self) -> bool:
        """Tell whether a pause is on (ending it when its time is up)."""
        if self.until and time.monotonic() >= self.until:
            self.stop()
        return bool(self.until)

    def remaining(self) -> float:
        """Seconds until the pause ends (0 when there is none)."""
        return max(self.until - time.monotonic(), 0.0) if self.active() else 0.0

    def holds(self, engine: Engine, session: Session, argv: list[bytes]) -> bool:
        """Tell whether the command in ``argv`` must wait for the pause to end (unknown commands never do)."""
        if not self.active():
            return False
        spec = engine.lookup(argv)
        if isinstance(spec, ReplyError):
            return False
        if self.everything:
            return True
        if spec.name == "exec" and session.multi is not None:
            return any(_writes(queued) for queued, _args in session.multi)
        return _writes(spec)


# The usable size of a new client's query buffer in Redis 7.0 (CLIENT LIST's qbuf + qbuf-free).
QUERY_BUFFER_SIZE: Final = 20474


def request_size(argv: list[bytes]) -> int:
    """Return the size of ``argv`` sent as a RESP multibulk request."""
    return len(b"*%d\r\n" % len(argv)) + sum(len(b"$%d\r\n" % len(arg)) + len(arg) + 2 for arg in argv)


def _subscriptions(client: Session) -> tuple[int, int, int]:
    """Return the client's (channels, patterns, shard channels) counts."""
    subscriber = hub(client.engine).subscribers.get(client.id)
    if subscriber is None:
        return 0, 0, 0
    return len(subscriber.channels), len(subscriber.patterns), len(subscriber.shard_channels)


def client_type(client: Session) -> bytes:
    """Return the type CLIENT LIST/KILL TYPE knows the client by: ``pubsub`` while subscribed, else ``normal``."""
    return b"pubsub" if any(_subscriptions(client)) else b"normal"


def describe_client(client: Session, current: Session | None, command_name: str = "",
                    current_argv: list[bytes] | None = None) -> bytes:
    """Return one line of CLIENT LIST / CLIENT INFO for ``client`` (``command_name``: the command it runs now).

    ``current_argv`` is the command ``current`` is running: Redis's query
    buffer still holds it (``qbuf``); the others' are empty, their buffer
    kept (``qbuf-free``).
    """
    now = time.time()
    channels, patterns, shard_channels = _subscriptions(client)
    flags = "P" if channels or patterns or shard_channels else ""
    if client.multi is not None:
        flags += "x"
    tracking = client.tracking
    if tracking is not None:
        flags += "t" + ("R" if tracking.broken else "") + ("B" if tracking.bcast else "")
    redirect = -1 if tracking is None else tracking.redirect
    multi = -1 if client.multi is None else len(client.multi)
    last = client.last_command
    command = command_name or (last.fullname if last is not None else "NULL")
    user = (client.user.name if client.user is not None else b"default").decode("utf-8", "replace")
    query_buffer = request_size(current_argv) if client is current and current_argv else 0
    query_free = QUERY_BUFFER_SIZE - query_buffer
    return (
        f"id={client.id} addr={client.address} laddr={client.local_address} fd=-1 "
        f"name={client.name.decode('utf-8', 'replace')} age={int(now - client.created)} "
        f"idle={int(now - client.last_interaction)} flags={flags or 'N'} db={client.db.index} sub={channels} "
        f"psub={patterns} ssub={shard_channels} multi={multi} qbuf={query_buffer} qbuf-free={query_free} "
        f"argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
        f"tot-mem=0 events=r cmd={command} user={user} redir={redirect} resp={client.protocol}"
    ).encode()

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


def describe_client(client: Session, current: Session | None, command_name: str = "") -> bytes:
    """Return one line of CLIENT LIST / CLIENT INFO for ``client`` (``command_name``: the command it runs now)."""
    now = time.time()
    flags = "x" if client.multi is not None else ""
    tracking = client.tracking
    if tracking is not None:
        flags += "t" + ("R" if tracking.broken else "") + ("B" if tracking.bcast else "")
    redirect = -1 if tracking is None else tracking.redirect
    multi = -1 if client.multi is None else len(client.multi)
    command = "client|list" if client is current else command_name or client.last_command.decode("utf-8", "replace")
    user = (client.user.name if client.user is not None else b"default").decode("utf-8", "replace")
    return (
        f"id={client.id} addr={client.address} laddr={client.address} fd=-1 "
        f"name={client.name.decode('utf-8', 'replace')} age={int(now - client.created)} "
        f"idle={int(now - client.last_interaction)} flags={flags or 'N'} db={client.db.index} sub=0 psub=0 ssub=0 "
        f"multi={multi} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
        f"tot-mem=0 events=r cmd={command} user={user} redir={redirect} resp={client.protocol}"
    ).encode()

"""Client control: CLIENT PAUSE, CLIENT UNPAUSE and CLIENT UNBLOCK (Redis's pauseClients, unblockClient).

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
from typing import TYPE_CHECKING, Any, Final

from .args import to_int
from .registry import define
from .replies import OK, ReplyError

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


def _wrong_arguments(argv: list[bytes]) -> ReplyError:
    spelling = argv[1].decode("utf-8", "replace")
    return ReplyError(f"ERR unknown subcommand or wrong number of arguments for '{spelling}'. Try CLIENT HELP.")


@define("client|pause", -3, "admin noscript loading stale", group="connection", since="2.9.50")
def client_pause(session: Session, argv: list[bytes]) -> Any:
    """CLIENT PAUSE timeout [WRITE|ALL]"""
    if len(argv) > 4:
        raise _wrong_arguments(argv)
    timeout = to_int(argv[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise ReplyError("ERR timeout is negative")
    everything = True
    if len(argv) == 4:
        mode = argv[3].upper()
        if mode == b"WRITE":
            everything = False
        elif mode != b"ALL":
            raise ReplyError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    session.engine.pause.start(timeout / 1000, everything)
    return OK


@define("client|unpause", 2, "admin noscript loading stale", group="connection", since="6.2.0")
def client_unpause(session: Session, argv: list[bytes]) -> Any:
    """CLIENT UNPAUSE"""
    engine = session.engine
    engine.pause.stop()
    engine.condition.notify_all()
    return OK


@define("client|unblock", -3, "admin noscript loading stale", group="connection", since="5.0.0")
def client_unblock(session: Session, argv: list[bytes]) -> Any:
    """CLIENT UNBLOCK client-id [TIMEOUT|ERROR]"""
    if len(argv) > 4:
        raise _wrong_arguments(argv)
    client_id = to_int(argv[2])
    error = False
    if len(argv) == 4:
        reason = argv[3].upper()
        if reason == b"ERROR":
            error = True
        elif reason != b"TIMEOUT":
            raise ReplyError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    engine = session.engine
    target = engine.sessions.get(client_id)
    if target is None or target.blocked is None or target.wakeup is not None:
        return 0
    target.wakeup = (UNBLOCKED if error else target.blocked.timeout_reply,)
    if error:  # the blocked client's error reply, counted as it is sent (INFO errorstats)
        engine.count_error(UNBLOCKED.message)
    engine.condition.notify_all()
    for listener in engine.unblock_listeners:
        listener(target)
    return 1

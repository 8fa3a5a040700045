"""Commands only a server has: QUIT, MONITOR, SHUTDOWN, and the socket side of RESET, CLIENT KILL and ACL DELUSER/LOAD.

MONITOR and SHUTDOWN are added to one engine's own command table
(``engine.commands``), so an embedded engine never sees them; QUIT, RESET,
CLIENT KILL and ACL DELUSER / LOAD keep the engine's handlers and get a
:class:`ServerActions` hook (``Engine.add_hook``).  A handler cannot touch
a socket: it returns an :class:`Action` (or the hook makes one) that the
connection carries out after queueing the reply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..engine.pubsub import hub
from ..engine.registry import CommandHook, CommandSpec
from ..engine.replies import OK, ReplyError, SimpleString

if TYPE_CHECKING:
    from ..engine import Engine
    from ..engine.session import Session


class Action:
    """A reply plus what the connection must do with its socket (``quit``, ``monitor`` ...)."""

    __slots__ = ("argument", "kind", "reply")

    def __init__(self, kind: str, reply: Any = None, argument: str = "") -> None:
        self.kind = kind
        self.reply = reply
        self.argument = argument

    def __repr__(self) -> str:
        return f"Action({self.kind!r}, {self.reply!r})"


def quit_(session: Session, argv: list[bytes]) -> Any:
    """QUIT"""
    return Action("quit", OK)


def monitor(session: Session, argv: list[bytes]) -> Any:
    """MONITOR"""
    if session.multi is not None or session.in_exec:
        raise ReplyError("ERR MONITOR isn't allowed in this context")
    return Action("monitor", OK)


def shutdown(session: Session, argv: list[bytes]) -> Any:
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"""
    mode = ""
    for arg in argv[1:]:
        option = arg.lower()
        if option in (b"nosave", b"save") and not mode:
            mode = option.decode()
        elif option in (b"now", b"force"):
            continue
        elif option == b"abort":
            raise ReplyError("ERR No shutdown in progress.")
        else:
            raise ReplyError("ERR syntax error")
    busy = session.engine.busy_script
    if busy is not None:  # a script runs past busy-reply-threshold: only NOSAVE may stop the server
        if mode != "nosave":
            raise ReplyError(busy.busy_error)
        busy.killed = True  # (it ends at its next hook call, written or not)
    return Action("shutdown", None, mode)


def _spec(name: str, handler: Any, arity: int, flags: str, group: str, since: str) -> CommandSpec:
    return CommandSpec(name=name, handler=handler, arity=arity, flags=frozenset(flags.split()), group=group,
                       summary=(handler.__doc__ or "").strip() if handler else "", since=since)


class ServerActions(CommandHook):
    """The engine hook that turns the reply of QUIT, RESET, CLIENT KILL, ACL DELUSER and ACL LOAD into an :class:`Action`.

    The handlers stay the engine's own: this hook only tells the connection
    what to do with sockets afterwards (close its own, close the sockets of
    the sessions the command closed, forget its subscriptions).
    """

    KINDS = {"quit": "quit", "reset": "reset", "client|kill": "killed", "acl|deluser": "killed", "acl|load": "killed"}

    def __init__(self, fullname: str) -> None:
        self.kind = self.KINDS[fullname]

    def after(self, session: Session, argv: list[bytes], reply: Any) -> Any:
        """Return the action to carry out with the reply (an error reply stays as it is, except for QUIT)."""
        if isinstance(reply, ReplyError) and self.kind != "quit":
            return reply
        if self.kind == "reset":
            hub(session.engine).unsubscribe_all(session)
            return Action("reset", reply if reply is not None else SimpleString(b"RESET"))
        return Action(self.kind, reply)


def install(engine: Engine) -> None:
    """Give ``engine`` the server's commands (MONITOR, SHUTDOWN) and its hooks; a second call changes nothing."""
    if engine.extensions.get("server-commands"):
        return
    engine.extensions["server-commands"] = True
    commands = engine.commands
    if b"quit" not in commands:
        commands[b"quit"] = _spec("quit", quit_, -1, "noscript loading stale fast no-auth allow-busy", "connection",
                                  "1.0.0")
        commands[b"quit"].hooked = True
    commands[b"monitor"] = _spec("monitor", monitor, 1, "admin noscript loading stale", "server", "1.0.0")
    commands[b"shutdown"] = _spec("shutdown", shutdown, -1, "admin noscript loading stale no-multi allow-busy",
                                  "server", "1.0.0")
    for fullname in ServerActions.KINDS:
        engine.add_hook(fullname, ServerActions(fullname))

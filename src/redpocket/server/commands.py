"""Commands only a server has: QUIT, MONITOR, SHUTDOWN, and the socket side of RESET, CLIENT KILL and ACL DELUSER/LOAD.

They are installed into one engine's own command table
(``engine.commands``, a copy of the global table), so an embedded engine
never sees them.  A handler cannot touch a socket: it returns an
:class:`Action` that the connection carries out after queueing the reply.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..engine.commands.pubsub import hub
from ..engine.registry import CommandSpec
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


def install(engine: Engine) -> None:
    """Add the server's commands to ``engine``'s own command table."""
    commands = engine.commands
    commands[b"quit"] = dataclasses.replace(commands[b"quit"], handler=quit_) if b"quit" in commands else _spec(
        "quit", quit_, -1, "noscript loading stale fast no-auth allow-busy", "connection", "1.0.0")
    commands[b"monitor"] = _spec("monitor", monitor, 1, "admin noscript loading stale", "server", "1.0.0")
    commands[b"shutdown"] = _spec("shutdown", shutdown, -1, "admin noscript loading stale no-multi allow-busy",
                                  "server", "1.0.0")

    reset_spec = commands.get(b"reset")
    if reset_spec is not None and reset_spec.handler is not None:
        original_reset = reset_spec.handler

        def reset(session: Session, argv: list[bytes]) -> Any:
            """RESET"""
            reply = original_reset(session, argv)
            hub(session.engine).unsubscribe_all(session)
            return Action("reset", reply if reply is not None else SimpleString(b"RESET"))

        commands[b"reset"] = dataclasses.replace(reset_spec, handler=reset)

    # Commands that close other clients' sessions: the server closes their sockets too.
    _reap_after(commands, b"client", b"kill")
    _reap_after(commands, b"acl", b"deluser")  # (the deleted users' clients)
    _reap_after(commands, b"acl", b"load")  # (the clients of users that went or changed)


def _reap_after(commands: dict[bytes, CommandSpec], container: bytes, name: bytes) -> None:
    """Make ``container name`` answer an ``Action("killed")``, so the server closes the sessions it closed."""
    parent = commands.get(container)
    if parent is None or name not in parent.subcommands:
        return
    parent = dataclasses.replace(parent, subcommands=dict(parent.subcommands))
    spec = parent.subcommands[name]
    original = spec.handler
    assert original is not None

    def reaping(session: Session, argv: list[bytes]) -> Any:
        return Action("killed", original(session, argv))

    reaping.__doc__ = original.__doc__
    for sub_name, sub in list(parent.subcommands.items()):
        parent.subcommands[sub_name] = dataclasses.replace(sub, parent=parent, handler=(
            reaping if sub_name == name else sub.handler))
    commands[container] = parent

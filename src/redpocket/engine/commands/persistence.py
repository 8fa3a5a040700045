"""Persistence commands: SAVE BGSAVE BGREWRITEAOF, and REDPOCKET.RESTORE for custom structures.

The work is done by the engine's :class:`~redpocket.engine.persistence.Persistence`
(attached by ``open_persistent_engine`` / ``attach_persistence``); an engine
held only in memory answers these commands with an error rather than pretend.
LASTSAVE lives in :mod:`.server`, SHUTDOWN with the TCP server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..persistence import Persistence, PersistenceError
from ..registry import define
from ..replies import OK, ReplyError, SimpleString, syntax_error

if TYPE_CHECKING:
    from ..session import Session

IN_MEMORY: Final = (
    "ERR this engine is held in memory only: open it on a directory "
    "(redpocket.connect('file:///path') or redpocket serve --dir) to save"
)


def persistence(session: Session) -> Persistence:
    """Return the session's engine persistence, or raise the in-memory error."""
    found = session.engine.extensions.get("persistence")
    if not isinstance(found, Persistence):
        raise ReplyError(IN_MEMORY)
    return found


@define("save", 1, "admin noscript no-async-loading no-multi", group="server")
def save(session: Session, argv: list[bytes]) -> Any:
    """SAVE"""
    target = persistence(session)
    if target.bgsave_running:
        raise ReplyError("ERR Background save already in progress")
    try:
        target.save()
    except OSError as error:
        raise ReplyError(f"ERR {error}") from None
    return OK


@define("bgsave", -1, "admin noscript no-async-loading", group="server")
def bgsave(session: Session, argv: list[bytes]) -> Any:
    """BGSAVE [SCHEDULE]"""
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() != b"SCHEDULE"):
        raise syntax_error()
    if not persistence(session).bgsave():
        raise ReplyError("ERR Background save already in progress")
    return SimpleString(b"Background saving started")


@define("bgrewriteaof", 1, "admin noscript no-async-loading", group="server")
def bgrewriteaof(session: Session, argv: list[bytes]) -> Any:
    """BGREWRITEAOF"""
    try:
        outcome = persistence(session).bgrewriteaof()
    except PersistenceError as error:
        raise ReplyError(f"ERR {error}") from None
    if outcome == "running":
        raise ReplyError("ERR Background append only file rewriting already in progress")
    if outcome == "scheduled":
        return SimpleString(b"Background append only file rewriting scheduled")
    return SimpleString(b"Background append only file rewriting started")


@define("redpocket.restore", 4, "write denyoom", 1, 1, 1, group="server", since="")
def restore_structure(session: Session, argv: list[bytes]) -> Any:
    """REDPOCKET.RESTORE key type-name payload

    Store a custom structure rebuilt with its ``load()``, replacing any value
    but keeping the key's expiry: snapshots and the append-only file use it.
    """
    name = argv[2].decode("utf-8", "replace")
    cls = session.engine.extensions.get("structures", {}).get(name)
    if cls is None:
        raise ReplyError(f"ERR unknown structure type '{name}': add the structure to this engine first")
    try:
        value = cls.load(argv[3])
    except Exception as error:
        raise ReplyError(f"ERR cannot load a '{name}' value: {error}") from None
    db = session.db
    if db.lookup_write(argv[1]) is None:
        db.add(argv[1], value)
    else:
        db.set(argv[1], value, keep_ttl=True)
    return OK

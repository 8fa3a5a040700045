"""Transaction commands: MULTI EXEC DISCARD WATCH UNWATCH (Redis 7.0's multi.c).

Queueing happens in :meth:`Engine.execute`: while ``session.multi`` is a
list every command but EXEC, DISCARD, MULTI, WATCH, QUIT and RESET is
appended to it and answered ``QUEUED``; a command rejected while queueing
(unknown, wrong arity) sets ``session.multi_error`` so EXEC aborts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..keyspace import now_ms
from ..registry import define
from ..replies import NULL_ARRAY, OK, ReplyError

if TYPE_CHECKING:
    from ..session import Session

_NESTED: ReplyError = ReplyError("ERR MULTI calls can not be nested")
_EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
_EXECABORT = "EXECABORT Transaction discarded because of previous errors."
_DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
_WATCH_INSIDE_MULTI = "ERR WATCH inside MULTI is not allowed"


@define("multi", 1, "noscript loading stale fast allow-busy", group="transactions", since="1.2.0")
def multi(session: Session, argv: list[bytes]) -> Any:
    """MULTI"""
    if session.multi is not None:
        raise _NESTED
    session.multi = []
    return OK


def watched_key_expired(session: Session) -> bool:
    """Tell whether a watched key has logically expired since WATCH (Redis's isWatchedKeyExpired).

    Keys already expired when WATCH ran were deleted by :func:`watch`, so
    every watched key still carrying a past expiry time expired afterwards.
    """
    now = None
    databases = session.engine.databases
    for index, key in session.watched:
        when = databases[index].expires.get(key)
        if when is not None:
            if now is None:
                now = now_ms()
            if when < now:
                return True
    return False


@define("exec", 1, "noscript loading stale skip-slowlog", group="transactions", since="1.2.0")
def exec_(session: Session, argv: list[bytes]) -> Any:
    """EXEC"""
    queued = session.multi
    if queued is None:
        raise ReplyError(_EXEC_WITHOUT_MULTI)
    if session.multi_error:
        session.reset_multi()
        raise ReplyError(_EXECABORT)
    if session.dirty_cas or (session.watched and watched_key_expired(session)):
        session.reset_multi()
        return NULL_ARRAY
    engine = session.engine
    # Redis unwatches before running the queue: the transaction's own writes
    # to watched keys must not matter.
    session.unwatch()
    replies: list[Any] = []
    with engine.lock:
        session.in_exec = True
        frozen = engine.frozen_ms
        if frozen is None:  # keys expire as of EXEC's start, as in Redis (fixed_time_expire)
            engine.frozen_ms = now_ms()
        try:
            call = engine.call
            for spec, args in queued:
                replies.append(call(session, spec, args))
        finally:
            engine.frozen_ms = frozen
            session.in_exec = False
            session.reset_multi()
    return replies


@define("discard", 1, "noscript loading stale fast allow-busy", group="transactions", since="2.0.0")
def discard(session: Session, argv: list[bytes]) -> Any:
    """DISCARD"""
    if session.multi is None:
        raise ReplyError(_DISCARD_WITHOUT_MULTI)
    session.reset_multi()
    return OK


@define("watch", -2, "noscript loading stale fast allow-busy", 1, -1, 1, group="transactions", since="2.2.0")
def watch(session: Session, argv: list[bytes]) -> Any:
    """WATCH key [key ...]"""
    if session.multi is not None:
        raise ReplyError(_WATCH_INSIDE_MULTI)
    engine = session.engine
    db = session.db
    expires = db.expires
    for key in argv[1:]:
        # Redis flags a key already expired at WATCH time so that its later
        # deletion is no change; deleting it now, before watching, is the same.
        if expires and key in expires:
            db.expire_if_needed(key)
        engine.watch(session, key)
    return OK


@define("unwatch", 1, "noscript loading stale fast allow-busy", group="transactions", since="2.2.0")
def unwatch(session: Session, argv: list[bytes]) -> Any:
    """UNWATCH"""
    session.unwatch()
    return OK

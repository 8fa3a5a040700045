"""CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO: the commands of client-side caching.

The tracking table they switch on and off is :mod:`..tracking`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..args import ArgCursor
from ..registry import define
from ..replies import OK, SYNTAX, Pushes, ReplyError, map_reply, set_reply
from ..tracking import ClientTracking, tracking
from . import connection as _client_commands  # noqa: F401  (defines CLIENT: these are its subcommands)

if TYPE_CHECKING:
    from ..session import Session

# -- commands -------------------------------------------------------------------------------

_FLAGS: Final = "noscript loading stale"
_OVERLAP: Final = "ERR Prefix '%s' overlaps with %s prefix '%s'. Prefixes for a single client must not overlap."


def _check_prefixes(state: ClientTracking | None, prefixes: list[bytes]) -> tuple[ReplyError | None, bool]:
    """Find two prefixes that would invalidate the same key (checkPrefixCollisionsOrReply).

    Return the error and whether Redis enables tracking all the same: its
    check returns the index of the overlapping prefix, which past the first
    one reads as success, so Redis answers that error *and* ``+OK``.
    """
    for i, prefix in enumerate(prefixes):
        if state is not None:
            for existing in state.prefixes:
                if existing.startswith(prefix) or prefix.startswith(existing):
                    return ReplyError(_OVERLAP % (_text(prefix), "an existing", _text(existing))), False
        for other in prefixes[i + 1 :]:
            if other.startswith(prefix) or prefix.startswith(other):
                return ReplyError(_OVERLAP % (_text(prefix), "another provided", _text(other))), i > 0
    return None, True


def _text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


@define("client|tracking", -3, _FLAGS, group="connection", since="6.0.0")
def client_tracking(session: Session, argv: list[bytes]) -> Any:
    """CLIENT TRACKING ON|OFF [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"""
    engine = session.engine
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes: list[bytes] = []
    arguments = ArgCursor(argv, 3)
    while arguments.more():
        option = arguments.next_option()
        if option == b"REDIRECT" and arguments.more():
            if redirect:
                raise ReplyError("ERR A client can only redirect to a single other client")
            redirect = arguments.next_int()
            found = engine.sessions.get(redirect)
            if found is None or found.closed:
                raise ReplyError("ERR The client ID you want redirect to does not exist")
        elif option == b"BCAST":
            bcast = True
        elif option == b"OPTIN":
            optin = True
        elif option == b"OPTOUT":
            optout = True
        elif option == b"NOLOOP":
            noloop = True
        elif option == b"PREFIX" and arguments.more():
            prefixes.append(arguments.next())
        else:
            raise ReplyError(SYNTAX)
    switch = argv[2].upper()
    table = tracking(engine)
    if switch == b"OFF":
        table.disable(session)
        return OK
    if switch != b"ON":
        raise ReplyError(SYNTAX)
    state = session.tracking
    if prefixes and not bcast:
        raise ReplyError("ERR PREFIX option requires BCAST mode to be enabled")
    if state is not None and state.bcast != bcast:
        raise ReplyError("ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
                         "and then re-enabling it with a different mode.")
    if bcast and (optin or optout):
        raise ReplyError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if optin and optout:
        raise ReplyError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if state is not None and ((optin and state.optout) or (optout and state.optin)):
        raise ReplyError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
                         "and then re-enabling it with a different mode.")
    overlap, goes_on = _check_prefixes(state, prefixes) if bcast else (None, True)
    if not goes_on:
        raise overlap  # type: ignore[misc]
    table.enable(session, redirect, bcast, optin, optout, noloop, prefixes)
    if overlap is not None:  # Redis's two replies to one command: the error, then +OK
        return Pushes([overlap, OK])
    return OK


@define("client|caching", 3, _FLAGS, group="connection", since="6.0.0")
def client_caching(session: Session, argv: list[bytes]) -> Any:
    """CLIENT CACHING YES|NO"""
    state = session.tracking
    if state is None:
        raise ReplyError("ERR CLIENT CACHING can be called only when the client is in tracking mode "
                         "with OPTIN or OPTOUT mode enabled")
    option = argv[2].upper()
    if option == b"YES":
        if not state.optin:
            raise ReplyError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif option == b"NO":
        if not state.optout:
            raise ReplyError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        raise ReplyError(SYNTAX)
    state.caching = True
    return OK


@define("client|getredir", 2, _FLAGS, group="connection", since="6.0.0")
def client_getredir(session: Session, argv: list[bytes]) -> Any:
    """CLIENT GETREDIR"""
    state = session.tracking
    return -1 if state is None else state.redirect


@define("client|trackinginfo", 2, _FLAGS, group="connection", since="6.2.0")
def client_trackinginfo(session: Session, argv: list[bytes]) -> Any:
    """CLIENT TRACKINGINFO"""
    state = session.tracking
    protocol = session.protocol
    if state is None:
        flags, redirect, prefixes = [b"off"], -1, []
    else:
        flags, redirect, prefixes = state.flags(), state.redirect, sorted(state.prefixes)
    return map_reply(protocol, [b"flags", set_reply(protocol, flags), b"redirect", redirect, b"prefixes", prefixes])

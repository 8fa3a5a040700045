"""Connection commands: HELLO PING ECHO SELECT AUTH QUIT RESET and CLIENT."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from ..args import to_int
from ..clients import UNBLOCKED, client_type, describe_client
from ..registry import define, define_container
from ..replies import DB_INDEX, NOT_INTEGER, OK, PONG, SYNTAX, ReplyError, SimpleString, map_reply
from ..version import REDIS_VERSION

if TYPE_CHECKING:
    from ..session import Session

_NAME_OK = re.compile(rb"[!-~]*\Z")  # printable ASCII, no spaces


@define("hello", -1, "noscript loading stale fast no-auth sentinel allow-busy", group="connection", since="6.0.0")
def hello(session: Session, argv: list[bytes]) -> Any:
    """HELLO [protover [AUTH username password] [SETNAME clientname]]"""
    protocol = session.protocol
    if len(argv) > 1:
        try:
            protocol = to_int(argv[1])
        except ReplyError:
            raise ReplyError("ERR Protocol version is not an integer or out of range") from None
        if protocol not in (2, 3):
            raise ReplyError("NOPROTO unsupported protocol version")
    name = None
    i = 2
    while i < len(argv):
        option = argv[i].upper()
        if option == b"AUTH" and i + 2 < len(argv):
            check_password(session, argv[i + 2], argv[i + 1], argv)
            i += 3
        elif option == b"SETNAME" and i + 1 < len(argv):
            name = argv[i + 1]
            check_client_name(name)
            i += 2
        else:
            raise ReplyError(f"ERR Syntax error in HELLO option '{argv[i].decode('utf-8', 'replace')}'")
    if name is not None:
        session.name = name
    session.protocol = protocol
    return map_reply(
        protocol,
        [b"server", b"redis", b"version", REDIS_VERSION.encode(), b"proto", protocol,
         b"id", session.id, b"mode", b"standalone", b"role", b"master", b"modules", []],
    )


def check_password(session: Session, password: bytes, username: bytes | None = None, argv: list[bytes] | None = None) -> None:
    """Log ``session`` in through the ACL users table; ``username`` None is AUTH's one-argument form."""
    from ..acl import authenticate, users

    if username is None:
        if users(session.engine).default.nopass:
            raise ReplyError(
                "ERR AUTH <password> called without any password configured for the default user. "
                "Are you sure your configuration is correct?"
            )
        username = b"default"
    authenticate(session, username, password, argv or [b"AUTH"])


def check_client_name(name: bytes) -> None:
    """Reject client names with spaces or special characters, as Redis does."""
    if not _NAME_OK.match(name):
        raise ReplyError("ERR Client names cannot contain spaces, newlines or special characters.")


@define("auth", -2, "noscript loading stale fast no-auth sentinel allow-busy", group="connection")
def auth(session: Session, argv: list[bytes]) -> Any:
    """AUTH [username] password"""
    if len(argv) > 3:
        raise ReplyError("ERR syntax error")
    if len(argv) == 2:
        check_password(session, argv[1], None, argv)
    else:
        check_password(session, argv[2], argv[1], argv)
    return OK


@define("ping", -1, "fast sentinel", group="connection")
def ping(session: Session, argv: list[bytes]) -> Any:
    """PING [message]"""
    if len(argv) > 2:
        raise ReplyError("ERR wrong number of arguments for 'ping' command")
    return PONG if len(argv) == 1 else argv[1]


@define("echo", 2, "loading stale fast", group="connection")
def echo(session: Session, argv: list[bytes]) -> Any:
    """ECHO message"""
    return argv[1]


@define("select", 2, "loading stale fast", group="connection")
def select(session: Session, argv: list[bytes]) -> Any:
    """SELECT index"""
    index = to_int(argv[1], NOT_INTEGER)
    if not 0 <= index < len(session.engine.databases):
        raise ReplyError(DB_INDEX)
    session.select(index)
    return OK


@define("quit", -1, "noscript loading stale fast no-auth allow-busy", group="connection")
def quit_(session: Session, argv: list[bytes]) -> Any:
    """QUIT"""
    return OK


@define("reset", 1, "noscript loading stale fast no-auth allow-busy", group="connection", since="6.2.0")
def reset(session: Session, argv: list[bytes]) -> Any:
    """RESET"""
    session.reset_multi()
    session.select(0)
    session.protocol = 2
    session.name = b""
    if session.user is not None or session.restricted:  # back to the default user, as Redis's clientSetDefaultAuth
        from ..acl import users

        session.user = None
        users(session.engine).attach(session)
    if session.tracking is not None:
        from ..tracking import tracking

        tracking(session.engine).disable(session)
    return SimpleString(b"RESET")


define_container("client", -2, "sentinel", group="connection")


@define("client|id", 2, "noscript loading stale", group="connection", since="5.0.0")
def client_id(session: Session, argv: list[bytes]) -> Any:
    """CLIENT ID"""
    return session.id


@define("client|setname", 3, "noscript loading stale", group="connection", since="2.6.9")
def client_setname(session: Session, argv: list[bytes]) -> Any:
    """CLIENT SETNAME connection-name"""
    check_client_name(argv[2])
    session.name = argv[2]
    return OK


@define("client|getname", 2, "noscript loading stale", group="connection", since="2.6.9")
def client_getname(session: Session, argv: list[bytes]) -> Any:
    """CLIENT GETNAME"""
    return session.name or None


_CLIENT_TYPES: Final = (b"normal", b"master", b"replica", b"slave", b"pubsub")


def _parse_client_type(name: bytes) -> bytes:
    kind = name.lower()
    if kind not in _CLIENT_TYPES:
        raise ReplyError(f"ERR Unknown client type '{name.decode('utf-8', 'replace')}'")
    return b"replica" if kind == b"slave" else kind


@define("client|list", -2, "admin noscript loading stale", group="connection", since="2.4.0")
def client_list(session: Session, argv: list[bytes]) -> Any:
    """CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id ...]"""
    clients = sorted(session.engine.sessions.values(), key=lambda s: s.id)
    if len(argv) > 2:
        option = argv[2].upper()
        if option == b"ID" and len(argv) > 3:
            wanted = {to_int(a, "ERR Invalid client ID") for a in argv[3:]}
            clients = [c for c in clients if c.id in wanted]
        elif option == b"TYPE" and len(argv) == 4:
            kind = _parse_client_type(argv[3])
            clients = [c for c in clients if client_type(c) == kind]
        else:
            raise ReplyError("ERR syntax error")
    return b"".join(describe_client(c, session, current_argv=argv) + b"\n" for c in clients)


@define("client|info", 2, "noscript loading stale", group="connection", since="6.2.0")
def client_info(session: Session, argv: list[bytes]) -> Any:
    """CLIENT INFO"""
    return describe_client(session, session, current_argv=argv) + b"\n"


@define("client|kill", -3, "admin noscript loading stale", group="connection", since="2.4.0")
def client_kill(session: Session, argv: list[bytes]) -> Any:
    """CLIENT KILL ip:port | CLIENT KILL [ID client-id] [TYPE type] [ADDR ip:port] [LADDR ip:port] [USER username] [SKIPME yes/no]"""
    engine = session.engine
    if len(argv) == 3:  # the old form: one address, and the caller itself may go
        for client in list(engine.sessions.values()):
            if client.address.encode() == argv[2]:
                client.close()
                return OK
        raise ReplyError("ERR No such client")
    if (len(argv) - 2) % 2:
        raise ReplyError("ERR syntax error")
    targets = list(engine.sessions.values())
    skip_me = True
    for i in range(2, len(argv), 2):
        option, value = argv[i].upper(), argv[i + 1]
        if option == b"ID":
            wanted = to_int(value, "ERR client-id should be greater than 0")
            if wanted <= 0:
                raise ReplyError("ERR client-id should be greater than 0")
            targets = [c for c in targets if c.id == wanted]
        elif option == b"TYPE":
            kind = _parse_client_type(value)
            targets = [c for c in targets if client_type(c) == kind]
        elif option == b"ADDR":
            targets = [c for c in targets if c.address.encode() == value]
        elif option == b"LADDR":
            targets = [c for c in targets if c.local_address.encode() == value]
        elif option == b"USER":
            from ..acl import username, users

            if value not in users(engine).table:
                raise ReplyError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
            targets = [c for c in targets if username(c) == value]
        elif option == b"SKIPME":
            if value.lower() == b"yes":
                skip_me = True
            elif value.lower() == b"no":
                skip_me = False
            else:
                raise ReplyError("ERR syntax error")
        else:
            raise ReplyError("ERR syntax error")
    killed = 0
    for client in targets:
        if client is session and skip_me:
            continue
        client.close()
        killed += 1
    return killed


@define("client|no-evict", 3, "admin noscript loading stale", group="connection", since="7.0.0")
def client_no_evict(session: Session, argv: list[bytes]) -> Any:
    """CLIENT NO-EVICT ON|OFF"""
    if argv[2].upper() not in (b"ON", b"OFF"):
        raise ReplyError("ERR syntax error")
    return OK


class ReplyMode(SimpleString):
    """CLIENT REPLY's answer: ``+OK`` to an in-process client; to the TCP server, which of the three it is."""

    __slots__ = ()


# Told apart by identity (all three read "OK").
REPLY_ON: Final = ReplyMode(b"OK")
REPLY_OFF: Final = ReplyMode(b"OK")
REPLY_SKIP: Final = ReplyMode(b"OK")
_REPLY_MODES: Final = {b"ON": REPLY_ON, b"OFF": REPLY_OFF, b"SKIP": REPLY_SKIP}


@define("client|reply", 3, "noscript loading stale", group="connection", since="3.2.0")
def client_reply(session: Session, argv: list[bytes]) -> Any:
    """CLIENT REPLY ON|OFF|SKIP

    The TCP server stops sending replies (OFF) or leaves out the next one
    (SKIP).  In process every command keeps its reply and this answers
    ``OK``: a caller waits for each reply (redis-py reads one per command,
    and nothing in process times out), and there is no network to spare.
    Inside EXEC it answers ``OK`` too (Redis would leave a hole in EXEC's array).
    """
    mode = _REPLY_MODES.get(argv[2].upper())
    if mode is None:
        raise ReplyError(SYNTAX)
    return OK if session.in_exec else mode


@define("client|help", 2, "loading stale", group="connection", since="5.0.0")
def client_help(session: Session, argv: list[bytes]) -> Any:
    """CLIENT HELP"""
    # Redis 7.0's text.
    return [
        b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CACHING (YES|NO)", b"    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        b"GETREDIR", b"    Return the client ID we are redirecting to when tracking is enabled.",
        b"GETNAME", b"    Return the name of the current connection.",
        b"ID", b"    Return the ID of the current connection.",
        b"INFO", b"    Return information about the current client connection.",
        b"KILL <ip:port>", b"    Kill connection made from <ip:port>.",
        b"KILL <option> <value> [<option> <value> [...]]", b"    Kill connections. Options are:",
        b"    * ADDR (<ip:port>|<unixsocket>:0)", b"      Kill connections made from the specified address",
        b"    * LADDR (<ip:port>|<unixsocket>:0)", b"      Kill connections made to specified local address",
        b"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", b"      Kill connections by type.",
        b"    * USER <username>", b"      Kill connections authenticated by <username>.",
        b"    * SKIPME (YES|NO)", b"      Skip killing current connection (default: yes).",
        b"LIST [options ...]", b"    Return information about client connections. Options:",
        b"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", b"      Return clients of specified type.",
        b"UNPAUSE", b"    Stop the current client pause, resuming traffic.",
        b"PAUSE <timeout> [WRITE|ALL]", b"    Suspend all, or just write, clients for <timeout> milliseconds.",
        b"REPLY (ON|OFF|SKIP)", b"    Control the replies sent to the current connection.",
        b"SETNAME <name>", b"    Assign the name <name> to the current connection.",
        b"UNBLOCK <clientid> [TIMEOUT|ERROR]", b"    Unblock the specified blocked client.",
        b"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        b"         [OPTIN] [OPTOUT] [NOLOOP]",
        b"    Control server assisted client side caching.",
        b"TRACKINGINFO", b"    Report tracking status for the current connection.",
        b"NO-EVICT (ON|OFF)", b"    Protect current client connection from eviction.",
        b"HELP", b"    Prints this help.",
    ]


# -- CLIENT PAUSE / UNPAUSE / UNBLOCK (the state lives in ..clients) ------------------------


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

"""Serialized values: DUMP, RESTORE (and RESTORE-ASKING), MIGRATE, as Redis's ``cluster.c`` has them.

A payload is the value in the RDB format, the RDB version (2 bytes) and a
CRC-64 (8 bytes), built and read by :mod:`redpocket.engine.persistence.rdb`,
so payloads move both ways between this engine and a Redis 7.0 server.

MIGRATE sends ``RESTORE`` commands to another server, but the engine knows
nothing of sockets: the layer that may do I/O installs a
:class:`MigrateTransport` as the engine extension ``"migrate_transport"``
(:mod:`redpocket.server.migrate`, installed by the TCP server and by the
embedded client), and MIGRATE answers Redis's replies from the lines it
returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

from ..args import to_int
from ..keyspace import now_ms
from ..persistence.rdb import EmptyValue, Settings, dump_payload, encoding_of, restore_payload, verify_payload
from ..persistence.rdb_primitives import RdbFormatError
from ..registry import define
from ..replies import OK, ReplyError, SimpleString, syntax_error

if TYPE_CHECKING:
    from ..session import Session

BUSYKEY: Final = "BUSYKEY Target key name already exists."
BAD_PAYLOAD: Final = "ERR DUMP payload version or checksum are wrong"
BAD_FORMAT: Final = "ERR Bad data format"


@define("dump", 2, "readonly", 1, 1, 1, group="generic", since="2.6.0")
def dump(session: Session, argv: list[bytes]) -> Any:
    """DUMP key"""
    db = session.db
    key = argv[1]
    value = db.lookup_read(key)
    if value is None:
        return None
    engine = session.engine
    return dump_payload(value, encoding_of(engine, value, db.encodings.get(key)), Settings.of(engine.config))


@define("restore", -4, "write denyoom", 1, 1, 1, group="generic", since="2.6.0")
def restore(session: Session, argv: list[bytes]) -> Any:
    """RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"""
    replace = absttl = False
    idle = frequency = -1
    index = 4
    while index < len(argv):
        option = argv[index].upper()
        more = len(argv) - index - 1
        if option == b"REPLACE":
            replace = True
        elif option == b"ABSTTL":
            absttl = True
        elif option == b"IDLETIME" and more and frequency == -1:
            idle = to_int(argv[index + 1])
            if idle < 0:
                raise ReplyError("ERR Invalid IDLETIME value, must be >= 0")
            index += 1
        elif option == b"FREQ" and more and idle == -1:
            frequency = to_int(argv[index + 1])
            if not 0 <= frequency <= 255:
                raise ReplyError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            index += 1
        else:
            raise syntax_error()
        index += 1
    db = session.db
    key = argv[1]
    if not replace and db.lookup_write(key) is not None:
        raise ReplyError(BUSYKEY)
    ttl = to_int(argv[2])
    if ttl < 0:
        raise ReplyError("ERR Invalid TTL value, must be >= 0")
    payload = argv[3]
    if not verify_payload(payload):
        raise ReplyError(BAD_PAYLOAD)
    try:
        value = restore_payload(payload, session.engine.extensions.get("structures", {}))
    except (RdbFormatError, EmptyValue):
        raise ReplyError(BAD_FORMAT) from None
    deleted = replace and db.delete(key)
    now = now_ms()
    if ttl and not absttl:
        ttl += now
    if ttl and ttl <= now:
        if deleted:
            db.notify("g", b"del", key)
        return OK
    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
    db.set_access(key, idle, frequency)  # (IDLETIME under an LRU policy, FREQ under an LFU one)
    db.notify("g", b"restore", key)
    return OK


@define("restore-asking", -4, "write denyoom asking", 1, 1, 1, group="server", since="3.0.0")
def restore_asking(session: Session, argv: list[bytes]) -> Any:
    """RESTORE-ASKING key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"""
    return restore(session, argv)


# -- MIGRATE -------------------------------------------------------------------------------------

MIGRATE_TRANSPORT: Final = "migrate_transport"  # engine extension, installed by the client and server layers


class MigrateConnectError(Exception):
    """The transport could not connect to the target."""


class MigrateIOError(Exception):
    """Writing to (``writing``) or reading from the target failed or timed out."""

    def __init__(self, writing: bool) -> None:
        super().__init__("writing" if writing else "reading")
        self.writing = writing


class MigrateTransport(Protocol):
    """What MIGRATE needs from the layer that may do I/O: send commands, return each reply's first line."""

    def __call__(self, host: str, port: int, timeout: float, commands: list[list[bytes]]) -> list[bytes]:
        """Send ``commands`` to ``host:port`` and return one reply line each (``+OK``, ``-ERR ...``)."""
        ...


def _migrate_keys(argv: list[bytes]) -> list[bytes]:
    """Return MIGRATE's keys: the key argument, or those after ``KEYS``."""
    for index in range(6, len(argv)):
        if argv[index].upper() == b"KEYS":
            return argv[index + 1 :]
    return [argv[3]] if len(argv) > 3 and argv[3] else []


@define("migrate", -6, "write", 3, 3, 1, keys=_migrate_keys, group="generic", since="2.6.0")
def migrate(session: Session, argv: list[bytes]) -> Any:
    """MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password] [AUTH2 username password] [KEYS key ...]"""
    copy = replace = False
    username = password = None
    keys = [argv[3]]
    index = 6
    while index < len(argv):
        option = argv[index].upper()
        more = len(argv) - 1 - index
        if option == b"COPY":
            copy = True
        elif option == b"REPLACE":
            replace = True
        elif option == b"AUTH":
            if not more:
                raise syntax_error()
            index += 1
            password = argv[index]
        elif option == b"AUTH2":
            if more < 2:
                raise syntax_error()
            username, password = argv[index + 1], argv[index + 2]
            index += 2
        elif option == b"KEYS":
            if argv[3]:
                raise ReplyError("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
            keys = argv[index + 1 :]
            break
        else:
            raise syntax_error()
        index += 1
    timeout = to_int(argv[5])
    database = to_int(argv[4])
    if timeout <= 0:
        timeout = 1000
    db = session.db
    found = [(key, value) for key in keys if (value := db.lookup_read(key)) is not None]
    if not found:
        return SimpleString(b"NOKEY")
    engine = session.engine
    transport = engine.extensions.get(MIGRATE_TRANSPORT)
    if transport is None:
        raise ReplyError("ERR MIGRATE needs a network transport: this engine was created without the client or server layer")
    commands: list[list[bytes]] = []
    if password is not None:
        commands.append([b"AUTH", password] if username is None else [b"AUTH", username, password])
    commands.append([b"SELECT", b"%d" % database])
    settings = Settings.of(engine.config)
    now = now_ms()
    moved = []
    for key, value in found:
        ttl = 0
        when = db.expires.get(key)
        if when is not None:
            ttl = when - now
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        payload = dump_payload(value, encoding_of(engine, value, db.encodings.get(key)), settings)
        commands.append([b"RESTORE", key, b"%d" % ttl, payload, *([b"REPLACE"] if replace else [])])
        moved.append(key)
    host, port = argv[1].decode("utf-8", "replace"), to_int(argv[2])
    try:
        lines = transport(host, port, timeout / 1000, commands)
    except MigrateConnectError:
        raise ReplyError("IOERR error or timeout connecting to the client") from None
    except MigrateIOError as failed:
        raise ReplyError(f"IOERR error or timeout {'writing' if failed.writing else 'reading'} to target instance") from None
    preamble = len(commands) - len(moved)
    failure = next((line for line in lines[:preamble] if line.startswith(b"-")), None)
    error = failure
    for key, line in zip(moved, lines[preamble:], strict=False):
        if failure is not None or line.startswith(b"-"):
            error = error or line
            continue
        if not copy:
            db.delete(key)
            db.notify("g", b"del", key)
    if error is not None:  # returned, not raised: the keys moved before it must still reach the AOF as DEL
        return ReplyError("ERR Target instance replied with error: " + error[1:].decode("utf-8", "replace"))
    return OK

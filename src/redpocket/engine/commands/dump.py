"""Serialized values: DUMP, RESTORE (and RESTORE-ASKING), as Redis's ``cluster.c`` has them.

A payload is the value in the RDB format, the RDB version (2 bytes) and a
CRC-64 (8 bytes), built and read by :mod:`redpocket.engine.persistence.rdb`,
so payloads move both ways between this engine and a Redis 7.0 server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..args import to_int
from ..keyspace import now_ms
from ..persistence.rdb import EmptyValue, Settings, dump_payload, encoding_of, restore_payload, verify_payload
from ..persistence.rdb_primitives import RdbFormatError
from ..registry import define
from ..replies import OK, ReplyError, syntax_error

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
    # IDLETIME / FREQ are accepted and checked; the keyspace keeps no access time or counter per key.
    db.notify("g", b"restore", key)
    return OK


@define("restore-asking", -4, "write denyoom asking", 1, 1, 1, group="server", since="3.0.0")
def restore_asking(session: Session, argv: list[bytes]) -> Any:
    """RESTORE-ASKING key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"""
    return restore(session, argv)

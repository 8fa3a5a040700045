"""Reply values that command handlers return, and the error reply they raise.

A handler returns plain Python values shaped as RESP2 replies:

=================  ===========================
Python value       RESP2 reply
=================  ===========================
``bytes``          bulk string
``SimpleString``   simple string (``+OK``)
``int``            integer
``None``           null bulk string (``$-1``)
``NULL_ARRAY``     null array (``*-1``)
``list``           array
``ReplyError``     error (``-ERR ...``)
=================  ===========================

The embedded client hands these straight to redis-py's response callbacks;
the TCP server encodes them once.
"""

from __future__ import annotations

from typing import Any, Final


class SimpleString(bytes):
    """A status reply such as ``+OK``; a bytes value, so redis-py callbacks accept it."""

    __slots__ = ()


class NullArray:
    """The RESP2 null array ``*-1``, distinct from the null bulk string."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"

    def __bool__(self) -> bool:
        return False


NULL_ARRAY: Final = NullArray()
OK: Final = SimpleString(b"OK")
QUEUED: Final = SimpleString(b"QUEUED")
PONG: Final = SimpleString(b"PONG")


class ReplyError(Exception):
    """An error reply; ``message`` is the full text, its first word the error code.

    ``counted`` marks an error a script passes on from one of its commands,
    already counted in INFO errorstats when that command failed.
    """

    __slots__ = ("counted", "message")

    def __init__(self, message: str, counted: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.counted = counted

    def __repr__(self) -> str:
        return f"ReplyError({self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReplyError) and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.message)


# Redis's shared error texts (server.c createSharedObjects), word for word.
WRONGTYPE: Final = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX: Final = "ERR syntax error"
NOT_INTEGER: Final = "ERR value is not an integer or out of range"
NOT_FLOAT: Final = "ERR value is not a valid float"
NO_SUCH_KEY: Final = "ERR no such key"
OUT_OF_RANGE: Final = "ERR index out of range"
READONLY_ERROR: Final = "READONLY You can't write against a read only replica."
OVERFLOW: Final = "ERR increment or decrement would overflow"
NAN_OR_INFINITY: Final = "ERR increment would produce NaN or Infinity"
DB_INDEX: Final = "ERR DB index is out of range"
NOT_POSITIVE: Final = "ERR value is out of range, must be positive"


def wrongtype() -> ReplyError:
    """Return the WRONGTYPE error reply."""
    return ReplyError(WRONGTYPE)


def syntax_error() -> ReplyError:
    """Return the generic syntax error reply."""
    return ReplyError(SYNTAX)


class SetReply(list):  # type: ignore[type-arg]
    """A RESP3 set reply (``~``); under RESP2 handlers return a plain list instead."""

    __slots__ = ()


class HumanDouble(float):
    """A RESP3 double whose text is given (``text``), as Redis's ``addReplyHumanLongDouble`` sends it.

    GEOPOS and WITHCOORD print coordinates with ``%.17Lf`` (trailing zeros
    trimmed) rather than ``%.17g``; the value is what a client parses from
    that text.  Under RESP2 handlers return the text as a bulk string instead.
    """

    __slots__ = ("text",)
    text: bytes

    def __new__(cls, text: bytes) -> HumanDouble:
        double = super().__new__(cls, text)
        double.text = text
        return double


class VerbatimReply(bytes):
    """A RESP3 verbatim string (``=``, e.g. ``INFO``); a bulk string under RESP2."""

    __slots__ = ()


# Protocol-aware reply builders.  Handlers call these so that one handler
# serves RESP2 (flat arrays, doubles as bulk strings) and RESP3 (maps,
# doubles, sets) clients.


def map_reply(protocol: int, flat: list[Any]) -> Any:
    """Return ``[k1, v1, k2, v2 ...]`` as a map: a dict under RESP3, the flat list under RESP2."""
    if protocol == 3:
        return dict(zip(flat[::2], flat[1::2], strict=True))
    return flat


def double_reply(protocol: int, value: float) -> Any:
    """Return a double: a float under RESP3, its ``%.17g`` text under RESP2."""
    if protocol == 3:
        return float(value)
    return format_double(value)


def set_reply(protocol: int, members: list[Any]) -> Any:
    """Return members as a set reply under RESP3, an array under RESP2."""
    if protocol == 3:
        return SetReply(members)
    return members


def scored_reply(protocol: int, pairs: list[tuple[bytes, float]]) -> list[Any]:
    """Return (member, score) pairs: nested ``[m, score]`` under RESP3, flat under RESP2."""
    if protocol == 3:
        return [[member, float(score)] for member, score in pairs]
    out: list[Any] = []
    for member, score in pairs:
        out.append(member)
        out.append(format_double(score))
    return out


def format_double(value: float) -> bytes:
    """Format a double as Redis 7.0 does in RESP2 replies (``%.17g``, ``inf``, ``-inf``)."""
    return b"%.17g" % value


def help_reply(lines: list[str]) -> list[SimpleString]:
    """Return a HELP reply: status lines, as Redis's ``addReplyHelp`` sends them."""
    return [SimpleString(line.encode()) for line in lines]


class Push(list):  # type: ignore[type-arg]
    """One out-of-band frame (a pub/sub message): ``>`` under RESP3, an array under RESP2."""

    __slots__ = ("encoded",)

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.encoded: dict[int, bytes] = {}


class Pushes(list):  # type: ignore[type-arg]
    """Several frames answering one command (``SUBSCRIBE a b``): each item is a :class:`Push`."""

    __slots__ = ()

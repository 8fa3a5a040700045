"""RESP on the wire: reply encoding (RESP2 and RESP3) and Redis's exact request parser.

Replies are the engine's values (see :mod:`redpocket.engine.replies`),
encoded once into one ``bytes`` per reply.  Requests are parsed by
``hiredis.Reader`` on the hot path (see :mod:`.connection`); this module's
:class:`RequestParser` is the slow, exact path: a port of Redis's
``processInlineBuffer`` / ``processMultibulkBuffer`` that keeps its state
across reads, enforces the protocol limits and produces Redis's protocol
error texts byte for byte.  The connection hands it inline commands,
partial frames and anything hiredis rejects.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ..engine.args import split_args
from ..engine.blocking import Block
from ..engine.replies import (
    OK,
    PONG,
    QUEUED,
    HumanDouble,
    NullArray,
    Push,
    Pushes,
    ReplyError,
    SetReply,
    SimpleString,
    VerbatimReply,
)

INT_MAX: Final = 2**31 - 1
LLONG_MAX: Final = 2**63 - 1
PROTO_INLINE_MAX_SIZE: Final = 64 * 1024
# Redis refuses large lengths before AUTH (processMultibulkBuffer).
UNAUTHENTICATED_MULTIBULK: Final = 10
UNAUTHENTICATED_BULK: Final = 16384


# -- reply encoding -------------------------------------------------------------

_SIMPLE: Final[dict[bytes, bytes]] = {OK: b"+OK\r\n", PONG: b"+PONG\r\n", QUEUED: b"+QUEUED\r\n"}
_SMALL_INTS: Final = [b":%d\r\n" % i for i in range(1024)]
_NULL2: Final = b"$-1\r\n"
_NULL3: Final = b"_\r\n"


# "$<length>" for the lengths most bulk strings have; a list of them is encoded with two joins.
_BULK_HEADS: Final = [b"$%d" % i for i in range(1024)]


def encode_bulk_list(header: bytes, items: list[Any]) -> bytes | None:
    """Return ``header`` then ``items`` as bulk strings, or ``None`` unless every item is a short ``bytes``.

    Interleaving precomputed ``$<length>`` heads with the items and joining
    once is several times faster than formatting each item (LRANGE, SMEMBERS ...).
    """
    heads = _BULK_HEADS
    try:
        lengths = [heads[len(item)] for item in items if item.__class__ is bytes]
    except IndexError:  # an item of 1024 bytes or more
        return None
    count = len(lengths)
    if count != len(items):  # not all plain bytes (nested replies, ints, None, SimpleString ...)
        return None
    parts: list[bytes] = [b""] * (2 * count)
    parts[::2] = lengths
    parts[1::2] = items
    parts.append(b"")
    return header + b"\r\n".join(parts)


def error_line(message: str) -> bytes:
    """Encode an error reply; like Redis's ``addReplyError``, newlines become spaces."""
    text = message.replace("\r", " ").replace("\n", " ")
    return b"-%s\r\n" % text.encode("utf-8", "surrogateescape")


def _encode(reply: Any, protocol: int, out: list[bytes]) -> None:
    """Append the encoding of ``reply`` to ``out`` (recursive for aggregates)."""
    kind = reply.__class__
    if kind is bytes:
        out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    elif kind is list or kind is SetReply or kind is Push:
        if kind is SetReply and protocol == 3:
            header = b"~%d\r\n" % len(reply)
        elif kind is Push and protocol == 3:
            header = b">%d\r\n" % len(reply)
        else:
            header = b"*%d\r\n" % len(reply)
        if len(reply) > 4:
            encoded = encode_bulk_list(header, reply)
            if encoded is not None:
                out.append(encoded)
                return
        out.append(header)
        append = out.append
        for item in reply:
            if item.__class__ is bytes:
                append(b"$%d\r\n%s\r\n" % (len(item), item))
            else:
                _encode(item, protocol, out)
    elif kind is int:
        out.append(_SMALL_INTS[reply] if 0 <= reply < 1024 else b":%d\r\n" % reply)
    elif kind is SimpleString:
        out.append(_SIMPLE.get(reply) or b"+%s\r\n" % reply.replace(b"\r", b" ").replace(b"\n", b" "))
    elif reply is None:
        out.append(_NULL3 if protocol == 3 else _NULL2)
    elif kind is ReplyError:
        out.append(error_line(reply.message))
    elif kind is NullArray:
        out.append(_NULL3 if protocol == 3 else b"*-1\r\n")
    elif kind is bool:
        if protocol == 3:
            out.append(b"#t\r\n" if reply else b"#f\r\n")
        else:
            out.append(_SMALL_INTS[int(reply)])
    elif kind is float:
        if protocol == 3:
            out.append(b",%.17g\r\n" % reply)
        else:
            text = b"%.17g" % reply
            out.append(b"$%d\r\n%s\r\n" % (len(text), text))
    elif kind is HumanDouble:
        text = reply.text
        out.append(b",%s\r\n" % text if protocol == 3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif kind is dict:
        out.append(b"%%%d\r\n" % len(reply) if protocol == 3 else b"*%d\r\n" % (2 * len(reply)))
        for key, value in reply.items():
            _encode(key, protocol, out)
            _encode(value, protocol, out)
    elif kind is VerbatimReply:
        if protocol == 3:
            out.append(b"=%d\r\ntxt:%s\r\n" % (len(reply) + 4, reply))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    elif kind is Pushes:
        for frame in reply:
            _encode(frame, protocol, out)
    elif isinstance(reply, bytes):  # other bytes subclasses: bulk strings
        out.append(b"$%d\r\n%s\r\n" % (len(reply), bytes(reply)))
    elif isinstance(reply, (list, tuple, set, frozenset)):
        _encode(list(reply), protocol, out)
    elif isinstance(reply, str):
        data = reply.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif isinstance(reply, int):
        out.append(b":%d\r\n" % reply)
    elif isinstance(reply, Block):
        out.append(error_line("ERR blocking reply outside a blocking context"))
    else:
        out.append(error_line(f"ERR internal error: cannot encode a reply of type {kind.__name__}"))


def encode(reply: Any, protocol: int = 2) -> bytes:
    """Return the RESP encoding of one engine reply for a client speaking ``protocol`` (2 or 3)."""
    kind = reply.__class__
    if kind is bytes:
        return b"$%d\r\n%s\r\n" % (len(reply), reply)
    if kind is SimpleString:
        cached = _SIMPLE.get(reply)
        if cached is not None:
            return cached
    elif kind is Push:
        cached = reply.encoded.get(protocol)
        if cached is None:
            out: list[bytes] = []
            _encode(reply, protocol, out)
            cached = reply.encoded[protocol] = b"".join(out)
        return cached
    out = []
    _encode(reply, protocol, out)
    return out[0] if len(out) == 1 else b"".join(out)


# -- request parsing ------------------------------------------------------------------


class ProtocolError(Exception):
    """A request Redis would reject with ``-ERR Protocol error: ...`` and then close the connection."""

    def __init__(self, reason: bytes) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def reply(self) -> bytes:
        """Return the error line the client receives before the connection closes."""
        return b"-ERR Protocol error: %s\r\n" % self.reason


_STRING2LL: Final = re.compile(rb"(?:-?[1-9][0-9]{0,19}|0)\Z")


def string2ll(text: bytes | bytearray) -> int | None:
    """Parse a decimal integer as Redis's ``string2ll``: no sign but ``-``, no leading zero, no blanks."""
    if _STRING2LL.match(text) is None:
        return None
    value = int(text)
    if not -LLONG_MAX - 1 <= value <= LLONG_MAX:
        return None
    return value


class RequestParser:
    """Redis's request parser, incremental: feed bytes, take complete commands one at a time.

    :meth:`next_command` returns a command (a list of ``bytes``), ``[]`` for
    an empty request Redis ignores (``*0``, ``*-1``, a blank line), or
    ``None`` when it needs more data; it raises :class:`ProtocolError` where
    Redis would.  The state of a half-received multibulk request is kept, so
    a large request arriving over many reads is parsed once.
    """

    __slots__ = ("args", "args_bytes", "buf", "bulk", "max_bulk", "multibulk", "pos")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.multibulk = 0
        self.bulk = -1
        self.args: list[bytes] = []
        self.args_bytes = 0
        self.max_bulk = max_bulk

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self.pos:
            if self.pos >= len(self.buf):
                self.buf.clear()
                self.pos = 0
            elif self.pos > 65536:
                del self.buf[: self.pos]
                self.pos = 0
        self.buf += data

    @property
    def idle(self) -> bool:
        """Tell whether no request is partly received (the next byte starts a new request)."""
        return self.pos >= len(self.buf) and not self.multibulk

    def pending_bytes(self) -> int:
        """Return the bytes held for requests not yet complete (the query buffer)."""
        return len(self.buf) - self.pos + self.args_bytes

    def next_command(self, auth_required: bool = False) -> list[bytes] | None:
        """Return the next complete request, ``[]`` for an ignored one, ``None`` if incomplete."""
        if not self.multibulk:
            if self.pos >= len(self.buf):
                return None
            if self.buf[self.pos] != 42:  # '*'
                return self._inline()
            if not self._multibulk_header(auth_required):
                return None
            if not self.multibulk:
                return []
        return self._bulks(auth_required)

    def _line_end(self, char: bytes) -> int:
        """Find ``char`` from ``pos`` as ``strchr`` would on Redis's NUL-terminated buffer (-1: none)."""
        buf = self.buf
        end = buf.find(char, self.pos)
        if end >= 0 and buf.find(b"\0", self.pos, end) >= 0:
            return -1
        return end

    def _inline(self) -> list[bytes] | None:
        buf = self.buf
        newline = self._line_end(b"\n")
        if newline < 0:
            if len(buf) - self.pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError(b"too big inline request")
            return None
        end = newline - 1 if newline != self.pos and buf[newline - 1] == 13 else newline
        line = bytes(buf[self.pos : end])
        argv = split_args(line)
        if argv is None:
            raise ProtocolError(b"unbalanced quotes in request")
        self.pos = newline + 1
        return argv

    def _multibulk_header(self, auth_required: bool) -> bool:
        buf = self.buf
        newline = self._line_end(b"\r")
        if newline < 0:
            if len(buf) - self.pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError(b"too big mbulk count string")
            return False
        if newline > len(buf) - 2:  # the \n has not arrived
            return False
        count = string2ll(buf[self.pos + 1 : newline])
        if count is None or count > INT_MAX:
            raise ProtocolError(b"invalid multibulk length")
        if count > UNAUTHENTICATED_MULTIBULK and auth_required:
            raise ProtocolError(b"unauthenticated multibulk length")
        self.pos = newline + 2
        if count > 0:
            self.multibulk = count
            self.args = []
            self.args_bytes = 0
        return True

    def _bulks(self, auth_required: bool) -> list[bytes] | None:
        buf = self.buf
        args = self.args
        while self.multibulk:
            if self.bulk < 0:
                if self.pos >= len(buf):
                    return None
                newline = self._line_end(b"\r")
                if newline < 0:
                    if len(buf) - self.pos > PROTO_INLINE_MAX_SIZE:
                        raise ProtocolError(b"too big bulk count string")
                    return None
                if newline > len(buf) - 2:
                    return None
                if buf[self.pos] != 36:  # '$'
                    raise ProtocolError(b"expected '$', got '%s'" % bytes(buf[self.pos : self.pos + 1]))
                length = string2ll(buf[self.pos + 1 : newline])
                if length is None or length < 0 or length > self.max_bulk:
                    raise ProtocolError(b"invalid bulk length")
                if length > UNAUTHENTICATED_BULK and auth_required:
                    raise ProtocolError(b"unauthenticated bulk length")
                self.pos = newline + 2
                self.bulk = length
            if len(buf) - self.pos < self.bulk + 2:
                return None
            end = self.pos + self.bulk
            args.append(bytes(buf[self.pos : end]))
            self.args_bytes += self.bulk
            self.pos = end + 2
            self.bulk = -1
            self.multibulk -= 1
        self.args = []
        self.args_bytes = 0
        return args


__all__ = [
    "ProtocolError",
    "Push",
    "Pushes",
    "RequestParser",
    "encode",
    "error_line",
    "split_args",
    "string2ll",
]

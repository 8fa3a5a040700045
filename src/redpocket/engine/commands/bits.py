"""Bitmap commands: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.

Bitmaps are strings (``bytes``); the bit arithmetic lives in
:mod:`..types.strings`.  Argument checks follow ``bitops.c`` word for
word, including the order in which they happen (BITCOUNT and BITPOS look
the key up before parsing their range, so a missing key answers 0 or -1
whatever the range says).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..args import to_int
from ..registry import define
from ..replies import SYNTAX, ReplyError
from ..types.strings import (
    BITOP_AND,
    BITOP_NOT,
    BITOP_OR,
    BITOP_XOR,
    bit_count,
    bit_operation,
    bit_position,
    bitfield_limit,
    bitfield_overflow,
    get_bit,
    get_bitfield,
    set_bit,
    set_bitfield,
)
from .strings import max_string_length

if TYPE_CHECKING:
    from ..session import Session

BIT_OFFSET_ERROR: Final = "ERR bit offset is not an integer or out of range"
BIT_VALUE_ERROR: Final = "ERR bit is not an integer or out of range"
BITFIELD_TYPE_ERROR: Final = (
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)

_BITOPS: Final = {b"AND": BITOP_AND, b"OR": BITOP_OR, b"XOR": BITOP_XOR, b"NOT": BITOP_NOT}
_OVERFLOW_WRAP: Final = 0
_OVERFLOW_SAT: Final = 1
_OVERFLOW_FAIL: Final = 2
_OVERFLOWS: Final = {b"WRAP": _OVERFLOW_WRAP, b"SAT": _OVERFLOW_SAT, b"FAIL": _OVERFLOW_FAIL}
_INT64_WRAP: Final = 1 << 64


def c_option(argument: bytes) -> bytes:
    """Upper-case an option name read as a C string (an embedded NUL ends it)."""
    option = argument.upper()
    if b"\0" in option:
        option = option[: option.index(b"\0")]
    return option


def bit_offset(session: Session, argument: bytes, bits: int = 0) -> int:
    """Parse a bit offset as ``getBitOffsetFromArgument``; ``#N`` means ``N * bits`` when ``bits`` is given."""
    text = argument[1:] if bits and argument[:1] == b"#" else argument
    offset = to_int(text, BIT_OFFSET_ERROR)
    if text is not argument:
        # The product is computed in int64 in C, so it may wrap round.
        offset = ((offset * bits + 2**63) % _INT64_WRAP) - 2**63
    # proto-max-bulk-len is at least 1mb: read it only for offsets beyond.
    if offset < 0 or (offset >> 23 and (offset >> 3) >= max_string_length(session)):
        raise ReplyError(BIT_OFFSET_ERROR)
    return offset


@define("setbit", 4, "write denyoom", 1, 1, 1, group="bitmap", since="2.2.0")
def setbit(session: Session, argv: list[bytes]) -> Any:
    """SETBIT key offset value"""
    offset = bit_offset(session, argv[2])
    bit = to_int(argv[3], BIT_VALUE_ERROR)
    if bit & ~1:
        raise ReplyError(BIT_VALUE_ERROR)
    db = session.db
    key = argv[1]
    value = db.lookup_write(key, bytes)
    if value is None:
        new, _old = set_bit(b"", offset, bit)
        db.add(key, new, encoding="raw")
        db.notify("$", b"setbit", key)
        return 0
    new, old = set_bit(value, offset, bit)
    # Redis signals a change only when the string grew or the bit flipped.
    if new is not value:
        db.set(key, new, True, encoding="raw")
        db.notify("$", b"setbit", key)
    return old


@define("getbit", 3, "readonly fast", 1, 1, 1, group="bitmap", since="2.2.0")
def getbit(session: Session, argv: list[bytes]) -> Any:
    """GETBIT key offset"""
    offset = bit_offset(session, argv[2])
    value = session.db.lookup_read(argv[1], bytes)
    if value is None:
        return 0
    return get_bit(value, offset)


def _unit(argument: bytes) -> bool:
    """Parse the BYTE|BIT unit of BITCOUNT and BITPOS; tell whether it is BIT."""
    unit = c_option(argument)
    if unit == b"BIT":
        return True
    if unit == b"BYTE":
        return False
    raise ReplyError(SYNTAX)


@define("bitcount", -2, "readonly", 1, 1, 1, group="bitmap", since="2.6.0")
def bitcount(session: Session, argv: list[bytes]) -> Any:
    """BITCOUNT key [start end [BYTE | BIT]]"""
    value = session.db.lookup_read(argv[1], bytes)
    if value is None:
        return 0
    argc = len(argv)
    if argc == 2:
        return bit_count(value)
    if argc not in (4, 5):
        raise ReplyError(SYNTAX)
    start = to_int(argv[2])
    end = to_int(argv[3])
    if start < 0 and end < 0 and start > end:
        return 0  # before the unit is parsed, as in Redis 7.0
    bit_unit = _unit(argv[4]) if argc == 5 else False
    return bit_count(value, start, end, bit_unit)


@define("bitpos", -3, "readonly", 1, 1, 1, group="bitmap", since="2.8.7")
def bitpos(session: Session, argv: list[bytes]) -> Any:
    """BITPOS key bit [start [end [BYTE | BIT]]]"""
    bit = to_int(argv[2])
    if bit != 0 and bit != 1:
        raise ReplyError("ERR The bit argument must be 1 or 0.")
    value = session.db.lookup_read(argv[1], bytes)
    if value is None:
        return -1 if bit else 0
    argc = len(argv)
    if argc == 3:
        return bit_position(value, bit)
    if argc > 6:
        raise ReplyError(SYNTAX)
    start = to_int(argv[3])
    bit_unit = _unit(argv[5]) if argc == 6 else False
    end = to_int(argv[4]) if argc >= 5 else None
    return bit_position(value, bit, start, end, bit_unit)


@define("bitop", -4, "write denyoom", 2, -1, 1, group="bitmap", since="2.6.0")
def bitop(session: Session, argv: list[bytes]) -> Any:
    """BITOP <AND | OR | XOR | NOT> destkey key [key ...]"""
    operation = _BITOPS.get(c_option(argv[1]))
    if operation is None:
        raise ReplyError(SYNTAX)
    if operation == BITOP_NOT and len(argv) != 4:
        raise ReplyError("ERR BITOP NOT must be called with a single source key.")
    db = session.db
    sources = []
    for key in argv[3:]:
        value = db.lookup_read(key, bytes)
        if value is None:
            sources.append(b"")
        else:
            sources.append(value)
    result = bit_operation(operation, sources)
    if result:
        db.set(argv[2], result, encoding="raw")
        db.notify("$", b"set", argv[2])
    elif db.delete(argv[2]):
        db.notify("g", b"del", argv[2])
    return len(result)


# -- BITFIELD --------------------------------------------------------------------------

_GET: Final = 0
_SET: Final = 1
_INCRBY: Final = 2
_SUBCOMMANDS: Final = {b"GET": (_GET, 2), b"SET": (_SET, 3), b"INCRBY": (_INCRBY, 3)}


def _bitfield_type(argument: bytes) -> tuple[bool, int]:
    """Parse ``i16`` / ``u8``: return (signed, bits)."""
    kind = argument[:1]
    if kind == b"i":
        signed = True
    elif kind == b"u":
        signed = False
    else:
        raise ReplyError(BITFIELD_TYPE_ERROR)
    text = argument[1:]
    if b"\0" in text:  # read with strlen()
        text = text[: text.index(b"\0")]
    bits = to_int(text, BITFIELD_TYPE_ERROR)
    if bits < 1 or bits > (64 if signed else 63):
        raise ReplyError(BITFIELD_TYPE_ERROR)
    return signed, bits


def _bitfield(session: Session, argv: list[bytes], readonly_command: bool) -> Any:
    """Redis's ``bitfieldGeneric``: parse every operation, then run them on one string."""
    operations: list[tuple[int, bool, int, int, int, int]] = []
    overflow = _OVERFLOW_WRAP
    readonly = True
    highest = 0
    argc = len(argv)
    j = 2
    while j < argc:
        remaining = argc - j - 1
        name = c_option(argv[j])
        entry = _SUBCOMMANDS.get(name)
        if entry is None or remaining < entry[1]:
            if name == b"OVERFLOW" and remaining >= 1:
                found = _OVERFLOWS.get(c_option(argv[j + 1]))
                if found is None:
                    raise ReplyError("ERR Invalid OVERFLOW type specified")
                overflow = found
                j += 2
                continue
            raise ReplyError(SYNTAX)
        opcode = entry[0]
        signed, bits = _bitfield_type(argv[j + 1])
        offset = bit_offset(session, argv[j + 2], bits)
        number = 0
        if opcode != _GET:
            readonly = False
            highest = max(highest, offset + bits - 1)
            number = to_int(argv[j + 3])
        operations.append((opcode, signed, bits, offset, number, overflow))
        j += 4 if opcode != _GET else 3
    db = session.db
    key = argv[1]
    if readonly:
        value = session.db.lookup_read(key, bytes)
        return [
            get_bitfield(value or b"", offset, bits, signed) for _op, signed, bits, offset, _n, _o in operations
        ]
    if readonly_command:
        raise ReplyError("ERR BITFIELD_RO only supports the GET subcommand")
    current = db.lookup_write(key, bytes)
    buffer = bytearray(current or b"")
    size = (highest >> 3) + 1
    # Like Redis, a write that leaves the bits as they were is no change,
    # unless the string had to be created or grown for it.
    grown = current is None or len(buffer) < size
    if len(buffer) < size:
        buffer.extend(bytes(size - len(buffer)))
    replies: list[Any] = []
    changes = 0
    for opcode, signed, bits, offset, number, how in operations:
        old = get_bitfield(buffer, offset, bits, signed)
        if opcode == _GET:
            replies.append(old)
            continue
        if opcode == _INCRBY:
            direction, new = bitfield_overflow(old, number, bits, signed)
        else:
            direction, new = bitfield_overflow(number, 0, bits, signed)
        if direction and how == _OVERFLOW_FAIL:
            replies.append(None)
            continue
        if direction and how == _OVERFLOW_SAT:
            new = bitfield_limit(direction, bits, signed)
        set_bitfield(buffer, offset, bits, new)
        if grown or new != old:
            changes += 1
        replies.append(new if opcode == _INCRBY else old)
    if changes:
        db.set(key, bytes(buffer), True, encoding="raw")
        db.notify("$", b"setbit", key)
    else:
        if grown:  # Redis creates or pads the string without signalling a change
            previous = db.data.get(key)
            if previous is None:
                db.notify("n", b"new", key)  # (its dbAdd still announces the new key)
            db.data[key] = bytes(buffer)
            db.account(key, previous)
        db.encodings[key] = "raw"  # and unshares it (dbUnshareStringValue) even when nothing changed
    return replies


@define("bitfield", -2, "write denyoom", 1, 1, 1, group="bitmap", since="3.2.0")
def bitfield(session: Session, argv: list[bytes]) -> Any:
    """BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> ...]"""
    return _bitfield(session, argv, False)


@define("bitfield_ro", -2, "readonly fast", 1, 1, 1, group="bitmap", since="6.0.0")
def bitfield_ro(session: Session, argv: list[bytes]) -> Any:
    """BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]"""
    return _bitfield(session, argv, True)

"""The compact encodings inside RDB values: listpack, intset, and the older ziplist and zipmap.

Builders produce the bytes Redis 7.0 keeps in memory (and so writes into
RDB files and DUMP payloads): :func:`build_listpack` from ``lpAppend``'s
rules (a canonical integer string is stored as an integer of the smallest
width), :func:`build_intset` from ``intsetAdd``'s.  Parsers check the
structure as ``lpValidateIntegrity`` / ``ziplistValidateIntegrity`` /
``intsetValidateIntegrity`` do (declared sizes, terminators, back-lengths,
element counts) and raise :class:`~.rdb_primitives.RdbFormatError` with the
offset of the first wrong byte, relative to the blob.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .rdb_primitives import RdbFormatError, is_canonical_int

LISTPACK_HEADER_SIZE: Final = 6
LISTPACK_END: Final = 0xFF
LISTPACK_UNKNOWN_COUNT: Final = 65535

Item = bytes | int


def _backlen(length: int) -> bytes:
    """Return ``lpEncodeBacklen``'s bytes: the entry length, most significant 7-bit group first."""
    if length <= 127:
        return bytes((length,))
    if length < 16383:
        return bytes((length >> 7, (length & 127) | 128))
    if length < 2097151:
        return bytes((length >> 14, ((length >> 7) & 127) | 128, (length & 127) | 128))
    if length < 268435455:
        return bytes((length >> 21, ((length >> 14) & 127) | 128, ((length >> 7) & 127) | 128, (length & 127) | 128))
    return bytes((
        length >> 28, ((length >> 21) & 127) | 128, ((length >> 14) & 127) | 128, ((length >> 7) & 127) | 128,
        (length & 127) | 128,
    ))


_SMALL_INT_ENTRIES: Final = [bytes((n, 1)) for n in range(128)]


def listpack_integer(value: int) -> bytes:
    """Return one listpack entry (encoding, data, back-length) holding the integer ``value``."""
    if 0 <= value <= 127:
        return _SMALL_INT_ENTRIES[value]
    if -4096 <= value <= 4095:
        if value < 0:
            value += 1 << 13
        return bytes(((value >> 8) | 0xC0, value & 0xFF, 2))
    if -32768 <= value <= 32767:
        return b"\xf1" + value.to_bytes(2, "little", signed=True) + b"\x03"
    if -8388608 <= value <= 8388607:
        return b"\xf2" + value.to_bytes(3, "little", signed=True) + b"\x04"
    if -(2**31) <= value <= 2**31 - 1:
        return b"\xf3" + value.to_bytes(4, "little", signed=True) + b"\x05"
    return b"\xf4" + value.to_bytes(8, "little", signed=True) + b"\x09"


def listpack_entry(item: Item) -> bytes:
    """Return one listpack entry for ``item``, a string (stored as an integer when canonical) or an int."""
    if type(item) is int:
        return listpack_integer(item)
    assert isinstance(item, bytes)
    size = len(item)
    if size <= 20 and size and is_canonical_int(item):
        return listpack_integer(int(item))
    if size < 64:
        return bytes((0x80 | size,)) + item + _backlen(1 + size)
    if size < 4096:
        return bytes((0xE0 | (size >> 8), size & 0xFF)) + item + _backlen(2 + size)
    return b"\xf0" + size.to_bytes(4, "little") + item + _backlen(5 + size)


def build_listpack(items: Iterable[Item]) -> bytes:
    """Return the listpack Redis builds by appending ``items`` in order."""
    entries = [listpack_entry(item) for item in items]
    body = b"".join(entries)
    total = LISTPACK_HEADER_SIZE + len(body) + 1
    count = len(entries) if len(entries) < LISTPACK_UNKNOWN_COUNT else LISTPACK_UNKNOWN_COUNT
    return total.to_bytes(4, "little") + count.to_bytes(2, "little") + body + b"\xff"


def parse_listpack(blob: bytes) -> list[bytes]:
    """Return the entries of a listpack as strings (integers as their decimal text), checking its structure."""
    size = len(blob)
    if size < LISTPACK_HEADER_SIZE + 1:
        raise RdbFormatError(0, "listpack shorter than its header")
    if int.from_bytes(blob[0:4], "little") != size:
        raise RdbFormatError(0, "listpack size does not match its header")
    declared = int.from_bytes(blob[4:6], "little")
    if blob[-1] != LISTPACK_END:
        raise RdbFormatError(size - 1, "listpack without its end marker")
    items: list[bytes] = []
    append = items.append
    from_bytes = int.from_bytes
    pos = LISTPACK_HEADER_SIZE
    end = size - 1
    while pos < end:
        start = pos
        first = blob[pos]
        if 0x80 <= first < 0xC0:  # a string of up to 63 bytes: the common case first
            pos += 1 + (first & 0x3F)
            append(blob[start + 1 : pos])
        elif first < 0x80:
            append(b"%d" % first)
            pos += 1
        elif first < 0xE0:
            value = ((first & 0x1F) << 8) | blob[pos + 1]  # blob[end] exists: a cut entry fails below
            append(b"%d" % (value - (1 << 13) if value >= 1 << 12 else value))
            pos += 2
        elif first < 0xF0:
            pos += 2 + (((first & 0x0F) << 8) | blob[pos + 1])
            append(blob[start + 2 : pos])
        elif first == 0xF0:
            pos += 5 + from_bytes(blob[pos + 1 : pos + 5], "little")
            append(blob[start + 5 : pos])
        elif 0xF1 <= first <= 0xF4:
            pos += 1 + (2, 3, 4, 8)[first - 0xF1]
            append(b"%d" % from_bytes(blob[start + 1 : pos], "little", signed=True))
        else:
            raise RdbFormatError(start, f"invalid listpack entry encoding {first:#x}")
        if pos > end:
            raise RdbFormatError(start, "listpack entry runs past the end")
        length = pos - start
        if length <= 127:  # a one-byte back-length
            if blob[pos] != length:
                raise RdbFormatError(pos, "listpack entry with a wrong back-length")
            pos += 1
        else:
            backlen = _backlen(length)
            if blob[pos : pos + len(backlen)] != backlen:
                raise RdbFormatError(pos, "listpack entry with a wrong back-length")
            pos += len(backlen)
    if pos != end:
        raise RdbFormatError(pos, "listpack entry runs past the end")
    if declared != LISTPACK_UNKNOWN_COUNT and declared != len(items):
        raise RdbFormatError(4, "listpack element count does not match its entries")
    return items


# -- intset -------------------------------------------------------------------------------------


def build_intset(values: Iterable[int]) -> bytes:
    """Return the intset of ``values`` (sorted, of the narrowest width that holds them all)."""
    ordered = sorted(values)
    width = 2
    if ordered and (ordered[0] < -(2**31) or ordered[-1] > 2**31 - 1):
        width = 8
    elif ordered and (ordered[0] < -32768 or ordered[-1] > 32767):
        width = 4
    body = b"".join(value.to_bytes(width, "little", signed=True) for value in ordered)
    return width.to_bytes(4, "little") + len(ordered).to_bytes(4, "little") + body


def parse_intset(blob: bytes) -> list[bytes]:
    """Return the members of an intset as decimal strings, checking its width and size."""
    if len(blob) < 8:
        raise RdbFormatError(0, "intset shorter than its header")
    width = int.from_bytes(blob[0:4], "little")
    if width not in (2, 4, 8):
        raise RdbFormatError(0, f"invalid intset encoding {width}")
    count = int.from_bytes(blob[4:8], "little")
    if 8 + count * width != len(blob):
        raise RdbFormatError(4, "intset size does not match its length")
    # Order and uniqueness are checked only by Redis's deep sanitization (off by default): a set is built anyway.
    return [b"%d" % int.from_bytes(blob[i : i + width], "little", signed=True) for i in range(8, len(blob), width)]


# -- ziplist (RDB 9 and older) ----------------------------------------------------------------------


def parse_ziplist(blob: bytes) -> list[bytes]:
    """Return the entries of a ziplist as strings, checking its header, entries and terminator."""
    size = len(blob)
    if size < 11:
        raise RdbFormatError(0, "ziplist shorter than its header")
    if int.from_bytes(blob[0:4], "little") != size:
        raise RdbFormatError(0, "ziplist size does not match its header")
    declared = int.from_bytes(blob[8:10], "little")
    if blob[-1] != 0xFF:
        raise RdbFormatError(size - 1, "ziplist without its end marker")
    items: list[bytes] = []
    pos = 10
    end = size - 1
    previous = 0
    last = 10  # where the last entry starts: the header's "tail" offset must say so
    while pos < end:
        start = last = pos
        prevlen = blob[pos]
        if prevlen == 0xFE:
            prevlen = int.from_bytes(blob[pos + 1 : pos + 5], "little")
            pos += 5
        else:
            pos += 1
        if prevlen != previous:
            raise RdbFormatError(start, "ziplist entry with a wrong previous-entry length")
        if pos >= end:
            raise RdbFormatError(start, "ziplist entry runs past the end")
        encoding = blob[pos]
        kind = encoding >> 6
        if kind == 0:
            length = encoding & 0x3F
            pos += 1
            items.append(blob[pos : pos + length])
            pos += length
        elif kind == 1:
            length = ((encoding & 0x3F) << 8) | blob[pos + 1]
            pos += 2
            items.append(blob[pos : pos + length])
            pos += length
        elif encoding == 0x80:
            length = int.from_bytes(blob[pos + 1 : pos + 5], "big")
            pos += 5
            items.append(blob[pos : pos + length])
            pos += length
        elif encoding in (0xC0, 0xD0, 0xE0, 0xF0, 0xFE):
            width = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}[encoding]
            items.append(b"%d" % int.from_bytes(blob[pos + 1 : pos + 1 + width], "little", signed=True))
            pos += 1 + width
        elif 0xF1 <= encoding <= 0xFD:
            items.append(b"%d" % ((encoding & 0x0F) - 1))
            pos += 1
        else:
            raise RdbFormatError(pos, f"invalid ziplist entry encoding {encoding:#x}")
        if pos > end:
            raise RdbFormatError(start, "ziplist entry runs past the end")
        previous = pos - start
    if declared != 65535 and declared != len(items):
        raise RdbFormatError(8, "ziplist element count does not match its entries")
    if int.from_bytes(blob[4:8], "little") != last:
        raise RdbFormatError(4, "ziplist tail offset does not point at its last entry")
    return items


def parse_zipmap(blob: bytes) -> list[bytes]:
    """Return a zipmap (Redis 2.x small hashes) as ``[field, value, field, value, ...]``."""
    pos = 1
    end = len(blob)
    items: list[bytes] = []

    def length_at(at: int) -> tuple[int, int]:
        if at >= end:
            raise RdbFormatError(at, "zipmap runs past the end")
        first = blob[at]
        if first < 254:
            return first, at + 1
        if first == 254:
            return int.from_bytes(blob[at + 1 : at + 5], "little"), at + 5
        raise RdbFormatError(at, "unexpected zipmap end")

    while True:
        if pos >= end:
            raise RdbFormatError(pos, "zipmap without its end marker")
        if blob[pos] == 0xFF:
            break
        length, pos = length_at(pos)
        items.append(blob[pos : pos + length])
        pos += length
        length, pos = length_at(pos)
        if pos >= end:
            raise RdbFormatError(pos, "zipmap runs past the end")
        free = blob[pos]
        pos += 1
        items.append(blob[pos : pos + length])
        pos += length + free
        if pos > end:
            raise RdbFormatError(pos, "zipmap runs past the end")
    if pos != end - 1:
        raise RdbFormatError(pos, "data after the zipmap end marker")
    return items

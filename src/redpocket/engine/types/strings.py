"""The string type: encodings, ranges, bit operations and LCS, with no argv parsing.

Strings are stored as plain ``bytes`` (Redis's ``int``/``embstr``/``raw``
encodings are only reported, by :func:`string_encoding`).  Bit positions
are big-endian within a byte, as in Redis: bit 0 is the most significant
bit of the first byte.  The functions here take already-validated numbers
and reproduce the index arithmetic of ``t_string.c`` and ``bitops.c``,
including their clamping quirks, and do the bit work on Python integers
(``int.from_bytes``) so it runs at C speed.
"""

from __future__ import annotations

from typing import Final

from ..args import is_int

# Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
EMBSTR_SIZE_LIMIT: Final = 44

BITOP_AND: Final = 0
BITOP_OR: Final = 1
BITOP_XOR: Final = 2
BITOP_NOT: Final = 3

_UINT64: Final = (1 << 64) - 1


def string_encoding(value: bytes) -> bytes:
    """Return ``OBJECT ENCODING`` of a string as Redis's ``tryObjectEncoding`` leaves it.

    ``int`` for the canonical text of a 64-bit integer (20 chars at most),
    ``embstr`` up to 44 bytes, ``raw`` beyond.  Redis also reports ``raw``
    for a short string last written by APPEND, SETRANGE, SETBIT, BITFIELD or
    BITOP, and ``embstr`` for an INCRBYFLOAT result; values are plain
    ``bytes``, so those handlers record it in ``Database.encodings``.
    """
    size = len(value)
    if size <= 20 and is_int(value):
        return b"int"
    return b"embstr" if size <= EMBSTR_SIZE_LIMIT else b"raw"


# -- ranges ------------------------------------------------------------------


def get_range(value: bytes, start: int, end: int) -> bytes:
    """Return GETRANGE's substring for inclusive, possibly negative ``start`` and ``end``."""
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= size:
        end = size - 1
    if start > end or size == 0:
        return b""
    return value[start : end + 1]


def set_range(value: bytes, offset: int, data: bytes) -> bytes:
    """Return ``value`` with ``data`` written at ``offset``, zero-padded as needed (SETRANGE)."""
    size = len(value)
    end = offset + len(data)
    if offset > size:
        return value + bytes(offset - size) + data
    return value[:offset] + data + value[end:] if end < size else value[:offset] + data


# -- single bits ---------------------------------------------------------------


def get_bit(value: bytes, offset: int) -> int:
    """Return the bit at ``offset`` (0 beyond the end)."""
    byte = offset >> 3
    if byte >= len(value):
        return 0
    return (value[byte] >> (7 - (offset & 7))) & 1


def set_bit(value: bytes, offset: int, bit: int) -> tuple[bytes, int]:
    """Set the bit at ``offset`` to ``bit``, growing with zeros; return (new value, old bit).

    The value returned is ``value`` itself when nothing changed.
    """
    byte = offset >> 3
    shift = 7 - (offset & 7)
    size = len(value)
    if byte >= size:
        grown = value + bytes(byte - size) + bytes(((bit << shift),))
        return grown, 0
    current = value[byte]
    old = (current >> shift) & 1
    if old == bit:
        return value, old
    current ^= 1 << shift
    return value[:byte] + bytes((current,)) + value[byte + 1 :], old


# -- BITCOUNT and BITPOS ----------------------------------------------------------


def _bit_range(
    size: int, start: int, end: int, bit_unit: bool, empty_if_both_negative: bool
) -> tuple[int, int, int, int] | None:
    """Normalize a BITCOUNT/BITPOS range; return (first byte, last byte, first bit, last bit) or ``None``.

    The two bit numbers are the bit positions in the whole string of the
    first and last bit the range covers (whole bytes in byte mode).
    """
    total = size << 3 if bit_unit else size
    if empty_if_both_negative and start < 0 and end < 0 and start > end:
        return None
    if start < 0:
        start += total
    if end < 0:
        end += total
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= total:
        end = total - 1
    if start > end:
        return None
    if bit_unit:
        return start >> 3, end >> 3, start, end
    return start, end, start << 3, (end << 3) | 7


def bit_count(value: bytes, start: int | None = None, end: int | None = None, bit_unit: bool = False) -> int:
    """Count the set bits of ``value``, or of its inclusive ``start``..``end`` range (BITCOUNT)."""
    if start is None or end is None:
        return int.from_bytes(value, "big").bit_count()
    found = _bit_range(len(value), start, end, bit_unit, True)
    if found is None:
        return 0
    first, last, first_bit, last_bit = found
    number = int.from_bytes(value[first : last + 1], "big")
    if bit_unit:
        number >>= 7 - (last_bit & 7)
        number &= (1 << (last_bit - first_bit + 1)) - 1
    return number.bit_count()


def _first_bit(chunk: bytes, bit: int) -> int:
    """Return the position of the first ``bit`` in ``chunk``, or -1."""
    skip = b"\x00" if bit else b"\xff"
    index = len(chunk) - len(chunk.lstrip(skip))
    if index == len(chunk):
        return -1
    byte = chunk[index] if bit else chunk[index] ^ 0xFF
    return (index << 3) + 8 - byte.bit_length()


def bit_position(
    value: bytes, bit: int, start: int | None = None, end: int | None = None, bit_unit: bool = False
) -> int:
    """Return the first bit equal to ``bit`` in the range, as BITPOS does.

    A missing ``end`` lets a search for 0 run into the zero padding after
    the string; a given ``end`` makes an unsuccessful search return -1.
    """
    size = len(value)
    end_given = end is not None
    if start is None:
        start = 0
    if end is None:
        end = (size << 3) + 7 if bit_unit else size - 1
    found = _bit_range(size, start, end, bit_unit, False)
    if found is None:
        return -1
    first, last, first_bit, last_bit = found
    chunk = value[first : last + 1]
    if bit_unit and (first_bit & 7 or (last_bit & 7) != 7):
        width = len(chunk) << 3
        number = int.from_bytes(chunk, "big")
        head = (first_bit & 7)
        tail = 7 - (last_bit & 7)
        outside = (((1 << head) - 1) << (width - head)) | ((1 << tail) - 1)
        # Bits outside the range must not match: clear them when looking
        # for 1, set them when looking for 0.
        number = number & ~outside if bit else number | outside
        chunk = number.to_bytes(len(chunk), "big")
    position = _first_bit(chunk, bit)
    if position == -1:
        if bit or end_given:
            return -1
        return (last + 1) << 3
    return (first << 3) + position


# -- BITOP ----------------------------------------------------------------------


def bit_operation(operation: int, sources: list[bytes]) -> bytes:
    """Combine ``sources`` (missing keys as ``b""``) byte by byte, zero-padded to the longest."""
    size = max(len(source) for source in sources)
    if size == 0:
        return b""
    numbers = [int.from_bytes(source, "big") << ((size - len(source)) << 3) for source in sources]
    if operation == BITOP_NOT:
        result = numbers[0] ^ ((1 << (size << 3)) - 1)
    else:
        result = numbers[0]
        if operation == BITOP_AND:
            for number in numbers[1:]:
                result &= number
        elif operation == BITOP_OR:
            for number in numbers[1:]:
                result |= number
        else:
            for number in numbers[1:]:
                result ^= number
    return result.to_bytes(size, "big")


# -- BITFIELD ------------------------------------------------------------------


def get_bitfield(value: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    """Read the ``bits``-wide integer at bit ``offset`` (zero beyond the end)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    window = value[first : last + 1]
    count = last - first + 1
    number = int.from_bytes(window, "big") << ((count - len(window)) << 3)
    number = (number >> ((count << 3) - (offset & 7) - bits)) & ((1 << bits) - 1)
    if signed and number >> (bits - 1):
        number -= 1 << bits
    return number


def set_bitfield(value: bytearray, offset: int, bits: int, number: int) -> None:
    """Write the low ``bits`` of ``number`` at bit ``offset`` of ``value`` (already long enough)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    count = last - first + 1
    shift = (count << 3) - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    current = int.from_bytes(value[first : last + 1], "big")
    current = (current & ~mask) | ((number << shift) & mask)
    value[first : last + 1] = current.to_bytes(count, "big")


def bitfield_overflow(old: int, increment: int, bits: int, signed: bool) -> tuple[int, int]:
    """Add ``increment`` to ``old`` in a ``bits``-wide field; return (direction, wrapped sum).

    ``direction`` is 1 on overflow, -1 on underflow, 0 when the sum fits
    (Redis's ``check(Un)signedBitfieldOverflow``).  For an unsigned field a
    negative value (SET of a negative number) is taken modulo 2**64, as C
    does, so it overflows upwards.
    """
    if signed:
        top = (1 << (bits - 1)) - 1
        low = -top - 1
        total = old + increment
        wrapped = ((total - low) & ((1 << bits) - 1)) + low
        if total > top:
            return 1, wrapped
        if total < low:
            return -1, wrapped
        return 0, total
    old &= _UINT64
    top = (1 << bits) - 1
    total = old + increment
    wrapped = total & top
    if old > top or total > top:
        return 1, wrapped
    if total < 0:
        return -1, wrapped
    return 0, total


def bitfield_limit(direction: int, bits: int, signed: bool) -> int:
    """Return the saturated value of a ``bits``-wide field that over- (1) or under- (-1) flowed."""
    if signed:
        top = (1 << (bits - 1)) - 1
        return top if direction > 0 else -top - 1
    return (1 << bits) - 1 if direction > 0 else 0


# -- LCS ------------------------------------------------------------------------


class CommonSubsequence:
    """The longest common subsequence of two strings, as Redis's LCS walks it.

    The dynamic-programming table is kept as one bit-parallel row per byte
    of ``a`` (Hyyrö's algorithm): ``LCS(i, j)`` is the number of zero bits
    among the low ``j`` bits of row ``i``.  The walk back from the bottom
    right corner takes the same steps as ``lcsCommand``, so the string and
    the match ranges are Redis's own.
    """

    __slots__ = ("a", "b", "length", "rows")

    def __init__(self, a: bytes, b: bytes) -> None:
        self.a = a
        self.b = b
        masks: dict[int, int] = {}
        for index, byte in enumerate(b):
            masks[byte] = masks.get(byte, 0) | (1 << index)
        full = (1 << len(b)) - 1
        row = full
        rows = [row]
        for byte in a:
            match = row & masks.get(byte, 0)
            row = ((row + match) | (row - match)) & full
            rows.append(row)
        self.rows = rows
        self.length = len(b) - row.bit_count()

    def cell(self, i: int, j: int) -> int:
        """Return ``LCS(i, j)``: the LCS length of ``a[:i]`` and ``b[:j]``."""
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()

    def walk(self, min_match_len: int = 0) -> tuple[bytes, list[tuple[int, int, int, int]]]:
        """Return the subsequence and its matching ranges ``(a_start, a_end, b_start, b_end)``, last first."""
        a, b = self.a, self.b
        i, j = len(a), len(b)
        out = bytearray()
        ranges: list[tuple[int, int, int, int]] = []
        unset = len(a)
        a_start = unset
        a_end = b_start = b_end = 0
        while i > 0 and j > 0:
            emit = False
            if a[i - 1] == b[j - 1]:
                out.append(a[i - 1])
                if a_start == unset:
                    a_start = a_end = i - 1
                    b_start = b_end = j - 1
                elif a_start == i and b_start == j:
                    a_start -= 1
                    b_start -= 1
                else:
                    emit = True
                if a_start == 0 or b_start == 0:
                    emit = True
                i -= 1
                j -= 1
            else:
                if self.cell(i - 1, j) > self.cell(i, j - 1):
                    i -= 1
                else:
                    j -= 1
                if a_start != unset:
                    emit = True
            if emit:
                if min_match_len == 0 or a_end - a_start + 1 >= min_match_len:
                    ranges.append((a_start, a_end, b_start, b_end))
                a_start = unset
        out.reverse()
        return bytes(out), ranges

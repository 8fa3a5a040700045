"""The bottom layer of the RDB format: CRC-64, lengths, strings, LZF.

Everything here reads or writes bytes exactly as Redis 7.0's ``rdb.c``,
``crc64.c`` and ``lzf_c.c`` / ``lzf_d.c`` do, so a payload built here is
byte-identical to Redis's:

- :func:`crc64`: CRC-64-Jones (reflected, polynomial ``0xad93d23594c935a9``,
  no initial or final XOR), the checksum of DUMP payloads and RDB files;
- :func:`encode_length` / :meth:`Reader.read_length`: the 6-bit, 14-bit,
  32-bit and 64-bit length prefixes, and the "special encoding" marker;
- :func:`encode_string` / :meth:`Reader.read_string`: a string as an 8/16/32
  bit integer when its text is a canonical integer (``rdbTryIntegerEncoding``),
  LZF-compressed when longer than 20 bytes and compressible (``rdbcompression
  yes``), verbatim otherwise;
- :func:`lzf_compress` / :func:`lzf_decompress`: liblzf's format with Redis's
  build options (``HLOG 16``, ``VERY_FAST``), so compressed output matches.

Reading errors are :class:`RdbFormatError`, which names the offset.
"""

from __future__ import annotations

import struct
from typing import Final

# Length prefixes and encodings (rdb.h).
RDB_6BITLEN: Final = 0
RDB_14BITLEN: Final = 1
RDB_32BITLEN: Final = 0x80
RDB_64BITLEN: Final = 0x81
RDB_ENCVAL: Final = 3
RDB_ENC_INT8: Final = 0
RDB_ENC_INT16: Final = 1
RDB_ENC_INT32: Final = 2
RDB_ENC_LZF: Final = 3

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


class RdbFormatError(Exception):
    """RDB bytes that are wrong (or cut short) at ``offset``."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} (at offset {offset})")
        self.offset = offset
        self.reason = reason


# -- CRC-64-Jones --------------------------------------------------------------------------

_CRC64_POLY: Final = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9, bit-reversed (the CRC is reflected)


def _byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE: Final = _byte_table()
# The table split into its 8 bytes, as bytes.translate tables: plane k of the parallel CRC below.
_CRC_BYTE_TABLES: Final = [bytes((value >> (8 * k)) & 0xFF for value in _CRC_TABLE) for k in range(8)]
_PARALLEL_THRESHOLD: Final = 1 << 14  # below this many bytes the byte loop is faster


def _crc64_bytewise(view: memoryview, crc: int) -> int:
    table = _CRC_TABLE
    for byte in view:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _apply(images: list[int], vector: int) -> int:
    """Apply the linear map given by the images of the 64 unit vectors to ``vector``."""
    result = 0
    bit = 0
    while vector:
        if vector & 1:
            result ^= images[bit]
        vector >>= 1
        bit += 1
    return result


_SHIFT_TABLES: dict[int, list[list[int]]] = {}


def _shift_tables(length: int) -> list[list[int]]:
    """Return 8 byte tables of the linear map "advance the CRC state over ``length`` zero bytes"."""
    tables = _SHIFT_TABLES.get(length)
    if tables is None:
        table = _CRC_TABLE
        step = [table[(1 << bit) & 0xFF] ^ ((1 << bit) >> 8) for bit in range(64)]  # one zero byte
        power = [1 << bit for bit in range(64)]  # the identity
        remaining = length
        while remaining:
            if remaining & 1:
                power = [_apply(step, image) for image in power]
            step = [_apply(step, image) for image in step]
            remaining >>= 1
        tables = []
        for k in range(8):
            byte_table = [0] * 256
            for value in range(1, 256):
                low = value & -value
                byte_table[value] = byte_table[value ^ low] ^ power[8 * k + low.bit_length() - 1]
            tables.append(byte_table)
        if len(_SHIFT_TABLES) > 16:
            _SHIFT_TABLES.clear()
        _SHIFT_TABLES[length] = tables
    return tables


def _crc64_lanes(view: memoryview, crc: int) -> int:
    """Return the CRC-64 of a large buffer, computed as many interleaved CRCs at C speed, then combined.

    The buffer is cut into ``lanes`` chunks of ``width`` bytes; step ``j``
    advances every chunk's CRC over its ``j``-th byte at once: the states
    are kept as 8 byte-planes (big integers, one byte per chunk) and the
    table lookups are ``bytes.translate`` over a whole plane.  The CRC is
    linear, so the chunk CRCs (each from state 0) combine into the whole
    buffer's by advancing the running CRC over ``width`` zero bytes before
    XOR-ing in the next chunk's.
    """
    size = len(view)
    width = max(256, int((size * 4) ** 0.5))
    lanes = size // width
    body = bytes(view[: lanes * width])
    t0, t1, t2, t3, t4, t5, t6, t7 = _CRC_BYTE_TABLES
    from_bytes = int.from_bytes
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0
    for j in range(width):
        index = (p0 ^ from_bytes(body[j::width], "little")).to_bytes(lanes, "little")
        p0 = from_bytes(index.translate(t0), "little") ^ p1
        p1 = from_bytes(index.translate(t1), "little") ^ p2
        p2 = from_bytes(index.translate(t2), "little") ^ p3
        p3 = from_bytes(index.translate(t3), "little") ^ p4
        p4 = from_bytes(index.translate(t4), "little") ^ p5
        p5 = from_bytes(index.translate(t5), "little") ^ p6
        p6 = from_bytes(index.translate(t6), "little") ^ p7
        p7 = from_bytes(index.translate(t7), "little")
    b0, b1, b2, b3, b4, b5, b6, b7 = (plane.to_bytes(lanes, "little") for plane in (p0, p1, p2, p3, p4, p5, p6, p7))
    z0, z1, z2, z3, z4, z5, z6, z7 = _shift_tables(width)
    for lane in range(lanes):
        crc = (
            z0[crc & 0xFF] ^ z1[(crc >> 8) & 0xFF] ^ z2[(crc >> 16) & 0xFF] ^ z3[(crc >> 24) & 0xFF]
            ^ z4[(crc >> 32) & 0xFF] ^ z5[(crc >> 40) & 0xFF] ^ z6[(crc >> 48) & 0xFF] ^ z7[crc >> 56]
            ^ (b0[lane] | b1[lane] << 8 | b2[lane] << 16 | b3[lane] << 24
               | b4[lane] << 32 | b5[lane] << 40 | b6[lane] << 48 | b7[lane] << 56)
        )
    return _crc64_bytewise(view[lanes * width :], crc)


def crc64(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """Return Redis's CRC-64 of ``data``, continuing from ``crc`` (0 to start)."""
    view = memoryview(data).cast("B")
    if len(view) >= _PARALLEL_THRESHOLD:
        return _crc64_lanes(view, crc)
    return _crc64_bytewise(view, crc)


# -- LZF -------------------------------------------------------------------------------------

_LZF_HSIZE_MASK: Final = (1 << 16) - 1
_LZF_MAX_LIT: Final = 1 << 5
_LZF_MAX_OFF: Final = 1 << 13
_LZF_MAX_REF: Final = (1 << 8) + (1 << 3)


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """Compress ``data`` as liblzf does with Redis's options; ``None`` if it needs more than ``out_len`` bytes.

    A port of ``lzf_compress`` (``VERY_FAST``, ``HLOG 16``): the same hash,
    the same match search, the same output.  Redis leaves the hash table
    uninitialised; an unused slot is treated as empty here, which is what
    it holds in practice.
    """
    in_len = len(data)
    if not in_len or not out_len:
        return None
    # A back-reference needs the same 3 bytes at an earlier position >= 1: without any repeated
    # 3-byte group every byte is a literal, which never fits (the run headers make it longer).
    if in_len + (in_len + 31) // 32 > out_len and (
        in_len < 3 or len({data[i : i + 3] for i in range(1, in_len - 2)}) == in_len - 3
    ):
        return None
    htab: dict[int, int] = {}
    out = bytearray(1)  # the first literal run's length byte, fixed when the run ends
    lit = 0
    ip = 0
    in_end = in_len
    hval = (data[0] << 8) | data[1] if in_len > 1 else 0
    mask = _LZF_HSIZE_MASK
    while ip < in_end - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
        slot = ((hval >> 8) - hval * 5) & mask
        ref = htab.get(slot, -1)
        htab[slot] = ip
        off = ip - ref - 1
        if (
            ref > 0
            and off < _LZF_MAX_OFF
            and data[ref + 2] == data[ip + 2]
            and data[ref] == data[ip]
            and data[ref + 1] == data[ip + 1]
        ):
            length = 2
            maxlen = in_end - ip - length
            if maxlen > _LZF_MAX_REF:
                maxlen = _LZF_MAX_REF
            # "op + 3 + 1 >= out_end", then the exact test, as lzf_c.c
            if len(out) + 4 >= out_len and len(out) - (not lit) + 4 >= out_len:
                return None
            out[-lit - 1] = lit - 1 & 0xFF  # stop the run
            if not lit:
                del out[-1]  # undo a run of length zero
            unrolled_match = True
            if maxlen > 16:  # lzf_c.c checks 16 bytes unrolled, without the maxlen bound
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        unrolled_match = False
                        break
            if unrolled_match:
                while True:
                    length += 1
                    if not (length < maxlen and data[ref + length] == data[ip + length]):
                        break
            length -= 2  # now the number of octets - 1
            ip += 1
            if length < 7:
                out.append((off >> 8) + (length << 5))
            else:
                out.append((off >> 8) + (7 << 5))
                out.append(length - 7)
            out.append(off & 0xFF)
            lit = 0
            out.append(0)  # start a run
            ip += length + 1
            if ip >= in_end - 2:
                break
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
            htab[((hval >> 8) - hval * 5) & mask] = ip
            ip += 1
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
            htab[((hval >> 8) - hval * 5) & mask] = ip
            ip += 1
        else:
            if len(out) >= out_len:
                return None
            lit += 1
            out.append(data[ip])
            ip += 1
            if lit == _LZF_MAX_LIT:
                out[-lit - 1] = lit - 1
                lit = 0
                out.append(0)
    if len(out) + 3 > out_len:
        return None
    while ip < in_end:
        lit += 1
        out.append(data[ip])
        ip += 1
        if lit == _LZF_MAX_LIT:
            out[-lit - 1] = lit - 1
            lit = 0
            out.append(0)
    out[-lit - 1] = lit - 1 & 0xFF
    if not lit:
        del out[-1]
    if len(out) > out_len:
        return None
    return bytes(out)


def lzf_decompress(data: bytes | memoryview, expected: int) -> bytes | None:
    """Return the ``expected`` bytes ``data`` decompresses to, or ``None`` if it is not valid LZF for them."""
    out = bytearray()
    ip = 0
    op = 0  # len(out), kept by hand: this loop runs once per token of every compressed value loaded
    in_end = len(data)
    try:
        while ip < in_end:
            ctrl = data[ip]
            ip += 1
            if ctrl < 32:  # a literal run of ctrl + 1 bytes
                stop = ip + ctrl + 1
                if stop > in_end:
                    return None
                out += data[ip:stop]
                op += stop - ip
                ip = stop
            else:  # a back-reference
                length = (ctrl >> 5) + 2
                if length == 9:
                    length += data[ip]
                    ip += 1
                start = op - ((ctrl & 0x1F) << 8) - 1 - data[ip]
                ip += 1
                if start < 0:
                    return None
                if op - start >= length:
                    out += out[start : start + length]
                else:  # an overlapping copy repeats the last op - start bytes
                    pattern = out[start:]
                    whole, rest = divmod(length, op - start)
                    out += pattern * whole + pattern[:rest]
                op += length
            if op > expected:
                return None
    except IndexError:  # a back-reference cut short by the end of the input
        return None
    if op != expected:
        return None
    return bytes(out)


# -- writing ------------------------------------------------------------------------------------

_SHORT_LENGTHS: Final = [bytes([n]) for n in range(64)]


def encode_length(length: int) -> bytes:
    """Return ``rdbSaveLen``'s bytes for ``length``."""
    if length < 64:
        return _SHORT_LENGTHS[length]
    if length < 1 << 14:
        return bytes(((length >> 8) | 0x40, length & 0xFF))
    if length <= 0xFFFFFFFF:
        return b"\x80" + length.to_bytes(4, "big")
    return b"\x81" + length.to_bytes(8, "big")


def is_canonical_int(text: bytes) -> bool:
    """Tell whether ``string2ll`` accepts ``text``: the canonical decimal text of a 64-bit integer."""
    if text == b"0":
        return True
    digits = text[1:] if text[:1] == b"-" else text
    if not digits.isdigit() or digits[0] == 48 or len(digits) > 19 or not digits.isascii():
        return False
    return len(digits) < 19 or INT64_MIN <= int(text) <= INT64_MAX


_DIGIT_START: Final = frozenset(b"-0123456789")


def encode_lzf_blob(compressed: bytes, original_length: int) -> bytes:
    """Return ``rdbSaveLzfBlob``'s bytes: the LZF marker, both lengths, the compressed data."""
    return b"\xc3" + encode_length(len(compressed)) + encode_length(original_length) + compressed


def encode_string(value: bytes, compress: bool = True) -> bytes:
    """Return ``rdbSaveRawString``'s bytes for ``value``: integer, LZF or verbatim, as Redis chooses."""
    size = len(value)
    if size <= 11 and size and value[0] in _DIGIT_START:
        try:
            number = int(value)
        except ValueError:
            pass
        else:
            if b"%d" % number == value:  # canonical (string2ll): no sign, spaces, zeros or underscores
                if -128 <= number <= 127:
                    return bytes((0xC0, number & 0xFF))
                if -32768 <= number <= 32767:
                    return b"\xc1" + number.to_bytes(2, "little", signed=True)
                if -(2**31) <= number < 2**31:
                    return b"\xc2" + number.to_bytes(4, "little", signed=True)
    if compress and size > 20:
        compressed = lzf_compress(value, size - 4)
        if compressed is not None:
            return encode_lzf_blob(compressed, size)
    if size < 64:
        return _SHORT_LENGTHS[size] + value
    return encode_length(size) + value


def encode_millisecond_time(when: int) -> bytes:
    """Return an absolute time in milliseconds as RDB 9+ stores it (64-bit little-endian)."""
    return when.to_bytes(8, "little", signed=True)


def encode_binary_double(value: float) -> bytes:
    """Return ``rdbSaveBinaryDoubleValue``'s bytes (IEEE 754, little-endian)."""
    return struct.pack("<d", value)


# -- reading ------------------------------------------------------------------------------------

_DOUBLE: Final = struct.Struct("<d")
_FLOAT: Final = struct.Struct("<f")


class Reader:
    """A cursor over RDB bytes: every read checks the bounds and names the offset of what is wrong."""

    __slots__ = ("base", "data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, base: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.base = base  # added to offsets in errors (the position of ``data`` in a larger file)

    def fail(self, reason: str, at: int | None = None) -> RdbFormatError:
        """Return the error for ``reason`` at ``at`` (default: the current position)."""
        return RdbFormatError(self.base + (self.pos if at is None else at), reason)

    def take(self, size: int) -> bytes:
        """Return the next ``size`` bytes."""
        pos = self.pos
        stop = pos + size
        if stop > self.end or size < 0:
            raise self.fail("unexpected end of data")
        self.pos = stop
        return self.data[pos:stop]

    def byte(self) -> int:
        """Return the next byte."""
        pos = self.pos
        if pos >= self.end:
            raise self.fail("unexpected end of data")
        self.pos = pos + 1
        return self.data[pos]

    def read_length_or_encoding(self) -> tuple[int, bool]:
        """Return ``(length, False)``, or ``(encoding type, True)`` for a special string encoding."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == RDB_32BITLEN:
            return int.from_bytes(self.take(4), "big"), False
        if first == RDB_64BITLEN:
            return int.from_bytes(self.take(8), "big"), False
        raise self.fail(f"unknown length encoding {first:#x}", self.pos - 1)

    def read_length(self) -> int:
        """Return a plain length (an encoded-string marker here is an error)."""
        start = self.pos
        length, encoded = self.read_length_or_encoding()
        if encoded:
            raise self.fail("a length was expected, found a string encoding", start)
        return length

    def read_string(self) -> bytes:
        """Return the next string, decoding integer and LZF encodings."""
        start = self.pos
        length, encoded = self.read_length_or_encoding()
        if not encoded:
            return self.take(length)
        if length == RDB_ENC_INT8:
            value = self.byte()
            return b"%d" % (value - 256 if value > 127 else value)
        if length == RDB_ENC_INT16:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if length == RDB_ENC_INT32:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if length == RDB_ENC_LZF:
            compressed_length = self.read_length()
            original_length = self.read_length()
            compressed = self.take(compressed_length)
            decompressed = lzf_decompress(compressed, original_length)
            if decompressed is None:
                raise self.fail("invalid LZF compressed string", start)
            return decompressed
        raise self.fail(f"unknown string encoding type {length}", start)

    def read_millisecond_time(self) -> int:
        """Return a 64-bit little-endian time in milliseconds."""
        return int.from_bytes(self.take(8), "little", signed=True)

    def read_second_time(self) -> int:
        """Return a 32-bit little-endian time in seconds (the old ``EXPIRETIME`` opcode)."""
        return int.from_bytes(self.take(4), "little", signed=True)

    def read_binary_double(self) -> float:
        """Return an IEEE 754 double stored little-endian."""
        return float(_DOUBLE.unpack(self.take(8))[0])

    def read_binary_float(self) -> float:
        """Return an IEEE 754 single stored little-endian."""
        return float(_FLOAT.unpack(self.take(4))[0])

    def read_text_double(self) -> float:
        """Return a double of the old ``ZSET`` type: a length byte and ASCII, or 253/254/255 for nan/+inf/-inf."""
        start = self.pos
        length = self.byte()
        if length == 253:
            return float("nan")
        if length == 254:
            return float("inf")
        if length == 255:
            return float("-inf")
        text = self.take(length)
        try:
            return float(text)
        except ValueError:
            raise self.fail(f"invalid double {text!r}", start) from None

"""Building blocks of Redis's RDB format: CRC-64, lengths, strings and LZF.

Redis's ``DUMP`` / ``FUNCTION DUMP`` payloads and its RDB files are made of
these: a value is a type byte followed by length-prefixed strings, and a
payload ends with the RDB version (2 bytes, little-endian) and the CRC-64
(Jones polynomial, reflected, 8 bytes little-endian) of everything before it.

Writing keeps to the plainest encodings (raw strings, no LZF compression),
which every Redis reads.  Reading accepts all of Redis's string encodings:
raw, the integer encodings and LZF-compressed strings.
"""

from __future__ import annotations

from typing import Final

RDB_VERSION: Final = 10  # Redis 7.0
RDB_OPCODE_FUNCTION2: Final = 245  # a function library: its code as one string
RDB_OPCODE_FUNCTION: Final = 246  # a library in the format of Redis 7.0 rc1 and rc2

_ENCVAL: Final = 3  # the length's two top bits say "encoded string"
_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3


class RdbFormatError(ValueError):
    """Raised when RDB bytes are truncated or malformed."""


def _crc64_table() -> list[int]:
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 with its bits reversed (the reflected form)
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64_TABLE: Final = _crc64_table()


def crc64(data: bytes, crc: int = 0) -> int:
    """Return Redis's CRC-64 (Jones, reflected, no final xor) of ``data``, continuing from ``crc``."""
    table = _CRC64_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def encode_length(length: int) -> bytes:
    """Encode a length as RDB does: 6, 14, 32 or 64 bits."""
    if length < 1 << 6:
        return bytes((length,))
    if length < 1 << 14:
        return bytes((0x40 | (length >> 8), length & 0xFF))
    if length <= 0xFFFFFFFF:
        return b"\x80" + length.to_bytes(4, "big")
    return b"\x81" + length.to_bytes(8, "big")


def encode_string(value: bytes) -> bytes:
    """Encode ``value`` as a raw RDB string (length, then the bytes)."""
    return encode_length(len(value)) + value


def add_footer(payload: bytes, version: int = RDB_VERSION) -> bytes:
    """Append the RDB version and the CRC-64 that end a DUMP payload."""
    payload += version.to_bytes(2, "little")
    return payload + crc64(payload).to_bytes(8, "little")


def check_footer(payload: bytes, version: int = RDB_VERSION) -> int | None:
    """Return the RDB version of a DUMP payload whose footer is sound, else ``None`` (verifyDumpPayload)."""
    if len(payload) < 10:
        return None
    found = int.from_bytes(payload[-10:-8], "little")
    if found > version:
        return None
    if crc64(payload[:-8]) != int.from_bytes(payload[-8:], "little"):
        return None
    return found


class RdbReader:
    """A cursor over RDB bytes: read types, lengths and strings in order."""

    def __init__(self, data: bytes, position: int = 0, end: int | None = None) -> None:
        self.data = data
        self.position = position
        self.end = len(data) if end is None else end

    def remaining(self) -> int:
        """Return how many bytes are left before the end."""
        return self.end - self.position

    def take(self, count: int) -> bytes:
        """Read ``count`` raw bytes."""
        if count < 0 or self.position + count > self.end:
            raise RdbFormatError("unexpected end of RDB data")
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def read_type(self) -> int:
        """Read one type (or opcode) byte."""
        return self.take(1)[0]

    def read_length(self) -> tuple[int, bool]:
        """Read a length; return ``(value, encoded)`` where ``encoded`` marks a special string encoding."""
        first = self.read_type()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.read_type(), False
        if kind == _ENCVAL:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RdbFormatError(f"unknown length encoding 0x{first:02x}")

    def read_string(self) -> bytes:
        """Read a string in any of its RDB encodings."""
        length, encoded = self.read_length()
        if not encoded:
            return self.take(length)
        if length == _ENC_INT8:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if length == _ENC_INT16:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if length == _ENC_INT32:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if length == _ENC_LZF:
            compressed_length, _ = self.read_length()
            plain_length, _ = self.read_length()
            return lzf_decompress(self.take(compressed_length), plain_length)
        raise RdbFormatError(f"unknown string encoding {length}")


def lzf_decompress(data: bytes, expected_length: int) -> bytes:
    """Decompress LZF data (liblzf's format, as Redis writes it) that must expand to ``expected_length`` bytes."""
    out = bytearray()
    position, end = 0, len(data)
    while position < end:
        control = data[position]
        position += 1
        if control < 32:  # a run of control + 1 literal bytes
            count = control + 1
            if position + count > end:
                raise RdbFormatError("truncated LZF literal run")
            out += data[position : position + count]
            position += count
            continue
        length = control >> 5  # a back reference
        if length == 7:
            if position >= end:
                raise RdbFormatError("truncated LZF back reference")
            length += data[position]
            position += 1
        if position >= end:
            raise RdbFormatError("truncated LZF back reference")
        start = len(out) - ((control & 0x1F) << 8) - data[position] - 1
        position += 1
        if start < 0:
            raise RdbFormatError("LZF back reference before the start")
        for index in range(start, start + length + 2):  # (byte by byte: the copy may overlap itself)
            out.append(out[index])
    if len(out) != expected_length:
        raise RdbFormatError("LZF data does not expand to its stated length")
    return bytes(out)

"""HyperLogLog in Redis 7.0's own string encoding (``src/hyperloglog.c``).

An HLL is a plain string value: a 16-byte header (``HYLL``, the encoding
byte, three unused bytes, the cached cardinality as 8 bytes little endian
whose top bit flags "invalid cache") followed by the registers, either
*dense* (16384 6-bit registers packed LSB first, 12288 bytes) or *sparse*
(a run-length code of ZERO ``00xxxxxx``, XZERO ``01xxxxxx yyyyyyyy`` and
VAL ``1vvvvvxx`` opcodes).  Every byte written here is the byte Redis
writes, so ``GET`` of an HLL key returns exactly what Redis returns.

Decoding the sparse code costs a Python loop, so the decoded working form
of recently used HLLs (:class:`HyperLogLog`) is kept in a small cache keyed
by the identity of the stored ``bytes`` object: :func:`load` takes it out
(or decodes), the caller mutates it and :func:`remember` files it under the
new ``bytes`` it stores.  A well-formed sparse HLL keeps, besides its bytes,
the first register of every opcode (for a bisection instead of Redis's
linear scan) and the register histogram (so a count needs no decoding).
Malformed sparse strings, which Redis accepts until an operation trips on
them, go through a literal port of Redis's byte-level code instead.
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_right
from itertools import accumulate
from typing import Final

HLL_P: Final = 14
HLL_Q: Final = 64 - HLL_P
REGISTERS: Final = 1 << HLL_P
HEADER_SIZE: Final = 16
DENSE_SIZE: Final = HEADER_SIZE + (REGISTERS * 6 + 7) // 8
DENSE: Final = 0
SPARSE: Final = 1
SPARSE_VAL_MAX_VALUE: Final = 32
SPARSE_VAL_MAX_LEN: Final = 4
SPARSE_ZERO_MAX_LEN: Final = 64
SPARSE_MAX_BYTES: Final = 3000  # hll-sparse-max-bytes default
ALPHA_INF: Final = 0.721347520444481703680  # 0.5 / ln(2)
SEED: Final = 0xADC83B19

_MASK64: Final = (1 << 64) - 1
_MURMUR_M: Final = 0xC6A4A7935BD1E995
_LANE: Final = REGISTERS // 4  # registers per 3-byte lane of the dense packing


def _lane_mask(byte: int, count: int) -> int:
    return int.from_bytes(bytes([byte]) * count, "little")


_L03: Final = _lane_mask(0x03, _LANE)
_L0F: Final = _lane_mask(0x0F, _LANE)
_L3F: Final = _lane_mask(0x3F, _LANE)
_HIGH_BITS: Final = _lane_mask(0x80, REGISTERS)
_NONZERO: Final = re.compile(rb"[^\x00]")

EMPTY_SPARSE: Final = b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xff"


# -- hashing ----------------------------------------------------------------


def murmurhash64a(key: bytes, seed: int = SEED) -> int:
    """Return Redis's endian-neutral MurmurHash64A of ``key``."""
    m = _MURMUR_M
    length = len(key)
    h = (seed ^ (length * m)) & _MASK64
    blocks = length >> 3
    if blocks:
        for k in struct.unpack_from("<%dQ" % blocks, key):
            k = (k * m) & _MASK64
            k ^= k >> 47
            h = ((h ^ ((k * m) & _MASK64)) * m) & _MASK64
    if length & 7:
        h = ((h ^ int.from_bytes(key[blocks << 3 :], "little")) * m) & _MASK64
    h ^= h >> 47
    h = (h * m) & _MASK64
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """Return (register index, length of the 00..1 pattern) of ``element`` (``hllPatLen``)."""
    h = murmurhash64a(element)
    rest = (h >> HLL_P) | (1 << HLL_Q)
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# -- the estimator --------------------------------------------------------------


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prime = z
        z += x * y
        y += y
        if z_prime == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    sqrt = math.sqrt
    power = math.pow
    while True:
        x = sqrt(x)
        z_prime = z
        y *= 0.5
        z -= power(1 - x, 2) * y
        if z_prime == z:
            return z / 3


def estimate(histogram: list[int]) -> int:
    """Return the cardinality of a register histogram (Ertl's estimator, as ``hllCount``)."""
    m = float(REGISTERS)
    z = m * _tau((m - histogram[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += histogram[j]
        z *= 0.5
    z += m * _sigma(histogram[0] / m)
    value = ALPHA_INF * m * m / z
    rounded = math.floor(value)
    if value - rounded >= 0.5:  # llroundl: halves away from zero
        rounded += 1
    return int(rounded)


def histogram(raw: bytes | bytearray) -> list[int]:
    """Return how many of the one-byte-per-register ``raw`` registers hold each value 0..63."""
    histo = [0] * 64
    rest = bytes(raw)
    # Count a value and delete it, picking values where they are likely frequent,
    # so each C-level pass runs over less data; finish on the short remainder.
    while len(rest) > 512:
        value = rest[len(rest) >> 1]
        histo[value] += rest.count(value)
        rest = rest.translate(None, bytes((value,)))
    for value in set(rest):
        histo[value] += rest.count(value)
    return histo


# -- dense packing ----------------------------------------------------------------


def unpack_dense(data: bytes | bytearray) -> bytearray:
    """Return the registers of a dense HLL string ``data``, one byte each."""
    lane0 = int.from_bytes(data[HEADER_SIZE::3], "little")
    lane1 = int.from_bytes(data[HEADER_SIZE + 1 :: 3], "little")
    lane2 = int.from_bytes(data[HEADER_SIZE + 2 :: 3], "little")
    raw = bytearray(REGISTERS)
    raw[0::4] = (lane0 & _L3F).to_bytes(_LANE, "little")
    raw[1::4] = (((lane0 >> 6) & _L03) | ((lane1 & _L0F) << 2)).to_bytes(_LANE, "little")
    raw[2::4] = (((lane1 >> 4) & _L0F) | ((lane2 & _L03) << 4)).to_bytes(_LANE, "little")
    raw[3::4] = ((lane2 >> 2) & _L3F).to_bytes(_LANE, "little")
    return raw


def pack_dense(raw: bytes | bytearray) -> bytearray:
    """Pack 16384 one-byte registers (each < 64) into the 12288 bytes of the dense encoding."""
    reg0 = int.from_bytes(raw[0::4], "little")
    reg1 = int.from_bytes(raw[1::4], "little")
    reg2 = int.from_bytes(raw[2::4], "little")
    reg3 = int.from_bytes(raw[3::4], "little")
    out = bytearray(DENSE_SIZE - HEADER_SIZE)
    out[0::3] = (reg0 | ((reg1 & _L03) << 6)).to_bytes(_LANE, "little")
    out[1::3] = (((reg1 >> 2) & _L0F) | ((reg2 & _L0F) << 4)).to_bytes(_LANE, "little")
    out[2::3] = (((reg2 >> 4) & _L03) | (reg3 << 2)).to_bytes(_LANE, "little")
    return out


def max_registers(a: int, b: int) -> int:
    """Return the register-wise maximum of two raw register arrays read as little-endian ints."""
    mask = ((((a | _HIGH_BITS) - b) & _HIGH_BITS) >> 7) * 0xFF  # 0xFF where a >= b
    return (a & mask) | (b & ~mask)


# -- the sparse code -----------------------------------------------------------------


def _zero_op(length: int) -> bytes:
    if length > SPARSE_ZERO_MAX_LEN:
        length -= 1
        return bytes(((length >> 8) | 0x40, length & 0xFF))
    return bytes((length - 1,))


def _val_op(value: int, length: int) -> int:
    return 0x80 | ((value - 1) << 2) | (length - 1)


# Every opcode but XZERO is one byte outside 0x40-0x7f, so the leftmost such byte
# always starts an XZERO: splitting on them tokenizes the code without a loop.
_XZERO = re.compile(rb"([\x40-\x7f][\x00-\xff])")
_EXPAND: Final = {op: "\0" * (op + 1) for op in range(0x40)} | {
    op: chr(((op >> 2) & 0x1F) + 1) * ((op & 3) + 1) for op in range(0x80, 0x100)
}
_SPAN: Final = bytes(op + 1 if op < 0x40 else (op & 3) + 1 if op >= 0x80 else 0 for op in range(256))


def _split_sparse(data: bytes | bytearray) -> list[bytes] | None:
    """Split the opcodes into runs of one-byte opcodes and XZERO pairs; ``None`` if cut short."""
    parts = _XZERO.split(bytes(data[HEADER_SIZE:]))
    last = parts[-1]
    if last and 0x40 <= last[-1] < 0x80:
        return None  # an XZERO truncated by the end of the string
    return parts


def _xzero_len(pair: bytes) -> int:
    return (((pair[0] & 0x3F) << 8) | pair[1]) + 1


def sparse_registers(data: bytes | bytearray, tail: int = 0) -> bytearray | None:
    """Decode a sparse HLL string into one byte per register; ``None`` if it is corrupted.

    ``tail`` is the byte after the end of the string (Redis's sds terminator),
    which an XZERO opcode cut short by the end reads as its second byte.
    """
    parts = _split_sparse(data)
    if parts is None:
        return _sparse_registers_slow(data, tail)
    pieces = []
    for i, part in enumerate(parts):
        if i & 1:
            pieces.append("\0" * _xzero_len(part))
        elif part:
            pieces.append(part.decode("latin-1").translate(_EXPAND))
    text = "".join(pieces)
    if len(text) != REGISTERS:
        return None
    return bytearray(text.encode("latin-1"))


def _sparse_registers_slow(data: bytes | bytearray, tail: int) -> bytearray | None:
    raw = bytearray(REGISTERS)
    end = len(data)
    p = HEADER_SIZE
    index = 0
    while p < end:
        op = data[p]
        if op < 0x40:
            index += op + 1
            p += 1
        elif op < 0x80:
            index += (((op & 0x3F) << 8) | (data[p + 1] if p + 1 < end else tail)) + 1
            p += 2
        else:
            run = (op & 3) + 1
            if index + run > REGISTERS:
                return None
            raw[index : index + run] = bytes((((op >> 2) & 0x1F) + 1,)) * run
            index += run
            p += 1
        if index > REGISTERS:
            return None
    return raw if index == REGISTERS else None


def _decode_sparse(data: bytes | bytearray) -> tuple[list[int], bytearray, list[int]] | None:
    """Return (opcode first registers, opcode lengths, histogram) of a well-formed sparse string."""
    parts = _split_sparse(data)
    if parts is None:
        return None
    spans: list[int] = []
    kinds = bytearray()
    for i, part in enumerate(parts):
        if i & 1:
            spans.append(_xzero_len(part))
            kinds.append(2)
        elif part:
            spans.extend(part.translate(_SPAN))
            kinds += b"\x01" * len(part)
    firsts = list(accumulate(spans, initial=0))
    if firsts.pop() != REGISTERS:
        return None
    raw = sparse_registers(data)
    assert raw is not None
    return firsts, kinds, histogram(raw)


def _sparse_from_empty(raw: bytes | bytearray, max_bytes: int) -> bytearray | None:
    """Return the sparse code that setting ``raw``'s registers in order into an empty HLL yields.

    Each set splits the trailing zero run and may merge the new VAL into the
    previous one, so the result is canonical; ``None`` when one of the sets
    would have grown the string past ``max_bytes`` (promotion to dense).
    An empty result means no register is set.
    """
    out = bytearray()
    last = -1
    tail = 2  # the bytes of the trailing zero opcode: XZERO:16384 at first
    run_value = run_length = 0  # the last VAL opcode, which the next may merge with
    for match in _NONZERO.finditer(raw):
        index = match.start()
        value = raw[index]
        gap = index - last - 1
        rest = REGISTERS - 1 - index
        new_tail = 0 if not rest else 1 if rest <= SPARSE_ZERO_MAX_LEN else 2
        if not (gap == 0 and rest == 0 and tail == 1):  # else a ZERO:1 becomes the VAL in place
            delta = (0 if not gap else 1 if gap <= SPARSE_ZERO_MAX_LEN else 2) + 1 + new_tail - tail
            if delta > 0 and HEADER_SIZE + len(out) + tail + delta > max_bytes:
                return None
        if gap:
            out += _zero_op(gap)
            run_length = 0
        if run_length and run_value == value and run_length < SPARSE_VAL_MAX_LEN:
            run_length += 1
            out[-1] = _val_op(value, run_length)
        else:
            run_value = value
            run_length = 1
            out.append(_val_op(value, 1))
        last = index
        tail = new_tail
    if last >= 0 and last < REGISTERS - 1:
        out += _zero_op(REGISTERS - 1 - last)
    return out


# -- validation ----------------------------------------------------------------------


def is_hll(value: bytes) -> bool:
    """Tell whether a string value passes Redis's ``isHLLObjectOrReply`` checks."""
    if len(value) < HEADER_SIZE or value[:4] != b"HYLL":
        return False
    encoding = value[4]
    if encoding == DENSE:
        return len(value) == DENSE_SIZE
    return encoding == SPARSE


def cached_cardinality(value: bytes) -> int | None:
    """Return the cardinality cached in an HLL header, or ``None`` when flagged invalid."""
    if value[15] & 0x80:
        return None
    return int.from_bytes(value[8:16], "little")


# -- the working form ----------------------------------------------------------------


class HyperLogLog:
    """The mutable working form of one HLL string value.

    ``data`` is the whole string (header included) as a ``bytearray``.  For
    a well-formed sparse HLL ``firsts`` lists the first register of every
    opcode and ``kinds`` the byte length (1 or 2) of every opcode; both are
    ``None`` for dense HLLs and for malformed sparse ones.  ``histo`` is the
    register histogram when known.
    """

    __slots__ = ("data", "firsts", "histo", "kinds", "max_bytes", "tail")

    def __init__(self, data: bytearray) -> None:
        self.data = data
        self.max_bytes = SPARSE_MAX_BYTES
        self.tail = 0
        self.firsts: list[int] | None = None
        self.kinds: bytearray | None = None
        self.histo: list[int] | None = None
        if data[4] == SPARSE:
            decoded = _decode_sparse(data)
            if decoded is not None:
                self.firsts, self.kinds, self.histo = decoded

    @classmethod
    def empty(cls) -> HyperLogLog:
        """Return a new empty HLL, sparse, as ``createHLLObject`` makes it."""
        hll = cls.__new__(cls)
        hll.data = bytearray(EMPTY_SPARSE)
        hll.firsts = [0]
        hll.kinds = bytearray(b"\x02")
        hll.histo = [REGISTERS] + [0] * 63
        hll.max_bytes = SPARSE_MAX_BYTES
        hll.tail = 0
        return hll

    @property
    def is_sparse(self) -> bool:
        """Tell whether the sparse encoding is in use."""
        return self.data[4] == SPARSE

    def to_bytes(self) -> bytes:
        """Return the string value Redis would hold."""
        return bytes(self.data)

    def invalidate_cache(self) -> None:
        """Flag the cached cardinality as stale."""
        self.data[15] |= 0x80

    def store_cardinality(self, card: int) -> None:
        """Write ``card`` into the header as the valid cached cardinality."""
        self.data[8:16] = card.to_bytes(8, "little")

    # -- reading -------------------------------------------------------------
    def registers(self) -> bytearray | None:
        """Return one byte per register, or ``None`` if the sparse code is corrupted."""
        if self.data[4] == DENSE:
            return unpack_dense(self.data)
        return sparse_registers(self.data, self.tail)

    def cardinality(self) -> int | None:
        """Return the estimated cardinality, or ``None`` if the sparse code is corrupted."""
        histo = self.histo
        if histo is None:
            raw = self.registers()
            if raw is None:
                return None
            histo = histogram(raw)
            if self.data[4] == DENSE or self.firsts is not None:
                self.histo = histo
        return estimate(histo)

    # -- writing -------------------------------------------------------------
    def add(self, element: bytes) -> int:
        """Add ``element``: 1 if a register changed, 0 if not, -1 if the HLL is corrupted."""
        index, count = pattern(element)
        return self.set_register(index, count)

    def set_register(self, index: int, count: int) -> int:
        """Raise register ``index`` to ``count``: 1 if it changed, 0 if not, -1 if corrupted."""
        data = self.data
        if data[4] == DENSE:
            return self._dense_set(index, count)
        if self.firsts is None:
            return self._sparse_set_slow(index, count)
        return self._sparse_set(index, count)

    def _dense_set(self, index: int, count: int) -> int:
        data = self.data
        bit = index * 6
        byte = HEADER_SIZE + (bit >> 3)
        shift = bit & 7
        low = data[byte]
        if shift <= 2:
            old = (low >> shift) & 63
            if count <= old:
                return 0
            data[byte] = (low & ~(63 << shift)) | (count << shift)
        else:
            high = data[byte + 1]
            old = ((low >> shift) | (high << (8 - shift))) & 63
            if count <= old:
                return 0
            data[byte] = (low & ~(63 << shift) & 0xFF) | ((count << shift) & 0xFF)
            data[byte + 1] = (high & ~(63 >> (8 - shift))) | (count >> (8 - shift))
        histo = self.histo
        if histo is not None:
            histo[old] -= 1
            histo[count] += 1
        return 1

    def set_dense(self, raw: bytes | bytearray, histo: list[int] | None = None) -> None:
        """Become dense with the registers ``raw`` (histogram ``histo`` if known), keeping the header."""
        data = bytearray(self.data[:HEADER_SIZE])
        data[4] = DENSE
        data += pack_dense(raw)
        self.data = data
        self.firsts = self.kinds = None
        self.histo = histo

    def to_dense(self) -> bool:
        """Convert to the dense encoding (``hllSparseToDense``); ``False`` if corrupted."""
        if self.data[4] == DENSE:
            return True
        raw = sparse_registers(self.data, self.tail)
        if raw is None:
            return False
        self.set_dense(raw, self.histo)
        return True

    def _promote(self, index: int, count: int) -> int:
        if not self.to_dense():
            return -1
        return self._dense_set(index, count)

    def _sparse_set(self, index: int, count: int) -> int:
        """``hllSparseSet`` on a well-formed sparse HLL, locating the opcode by bisection."""
        if count > SPARSE_VAL_MAX_VALUE:
            return self._promote(index, count)
        data = self.data
        firsts = self.firsts
        kinds = self.kinds
        assert firsts is not None and kinds is not None
        k = bisect_right(firsts, index) - 1
        p = HEADER_SIZE + k + kinds.count(2, 0, k)
        op = data[p]
        if op >= 0x80:
            old = ((op >> 2) & 0x1F) + 1
            if old >= count:
                return 0
            runlen = (op & 3) + 1
        elif op < 0x40:
            old = 0
            runlen = op + 1
        else:
            old = 0
            runlen = (((op & 0x3F) << 8) | data[p + 1]) + 1
        if runlen == 1 and (op < 0x40 or op >= 0x80):
            # A VAL or ZERO covering just this register: rewrite it in place.
            data[p] = 0x80 | ((count - 1) << 2)
        else:
            # Split the opcode: at worst XZERO becomes XZERO-VAL-XZERO.
            first = firsts[k]
            last = first + runlen - 1
            seq = bytearray()
            new_firsts = []
            new_kinds = bytearray()
            if op < 0x80:
                if index != first:
                    piece = _zero_op(index - first)
                    seq += piece
                    new_firsts.append(first)
                    new_kinds.append(len(piece))
                seq.append(0x80 | ((count - 1) << 2))
                new_firsts.append(index)
                new_kinds.append(1)
                if index != last:
                    piece = _zero_op(last - index)
                    seq += piece
                    new_firsts.append(index + 1)
                    new_kinds.append(len(piece))
            else:
                if index != first:
                    seq.append(_val_op(old, index - first))
                    new_firsts.append(first)
                    new_kinds.append(1)
                seq.append(0x80 | ((count - 1) << 2))
                new_firsts.append(index)
                new_kinds.append(1)
                if index != last:
                    seq.append(_val_op(old, last - index))
                    new_firsts.append(index + 1)
                    new_kinds.append(1)
            oldlen = 2 if 0x40 <= op < 0x80 else 1
            delta = len(seq) - oldlen
            if delta > 0 and len(data) + delta > self.max_bytes:
                return self._promote(index, count)
            data[p : p + oldlen] = seq
            firsts[k : k + 1] = new_firsts
            kinds[k : k + 1] = new_kinds
        histo = self.histo
        if histo is not None:
            histo[old] -= 1
            histo[count] += 1
        # Merge adjacent VALs of equal value, scanning at most 5 opcodes from the previous one.
        if k:
            i = k - 1
            q = p - kinds[i]
        else:
            i = 0
            q = HEADER_SIZE
        end = len(data)
        scan = 5
        while q < end and scan:
            scan -= 1
            op = data[q]
            if op < 0x80:
                q += 2 if op >= 0x40 else 1
                i += 1
                continue
            if q + 1 < end:
                nxt = data[q + 1]
                if nxt >= 0x80 and (op >> 2) == (nxt >> 2):
                    length = (op & 3) + (nxt & 3) + 2
                    if length <= SPARSE_VAL_MAX_LEN:
                        data[q] = (op & 0xFC) | (length - 1)
                        del data[q + 1]
                        del firsts[i + 1]
                        del kinds[i + 1]
                        end -= 1
                        continue
            q += 1
            i += 1
        data[15] |= 0x80
        return 1

    def _sparse_set_slow(self, index: int, count: int) -> int:
        """``hllSparseSet`` ported byte for byte, for sparse strings that are not well-formed."""
        if count > SPARSE_VAL_MAX_VALUE:
            return self._promote(index, count)
        # Redis's sds buffer has a byte after the string's end (the terminator, unless
        # a split of a truncated XZERO overwrote it), which a truncated XZERO reads.
        buf = self.data + bytes((self.tail,)) + bytes(7)
        end = len(self.data)
        p = HEADER_SIZE
        first = 0
        prev = -1
        span = 0
        while p < end:
            op = buf[p]
            oplen = 1
            if op < 0x40:
                span = op + 1
            elif op >= 0x80:
                span = (op & 3) + 1
            else:
                span = (((op & 0x3F) << 8) | buf[p + 1]) + 1
                oplen = 2
            if index <= first + span - 1:
                break
            prev = p
            p += oplen
            first += span
        if span == 0 or p >= end:
            return -1
        op = buf[p]
        is_xzero = 0x40 <= op < 0x80
        nxt = p + 2 if is_xzero else p + 1
        has_next = nxt < end
        if op >= 0x80:
            old = ((op >> 2) & 0x1F) + 1
            if old >= count:
                return 0
            runlen = (op & 3) + 1
        elif op < 0x40:
            old = 0
            runlen = op + 1
        else:
            old = 0
            runlen = (((op & 0x3F) << 8) | buf[p + 1]) + 1
        if runlen == 1 and not is_xzero:
            buf[p] = 0x80 | ((count - 1) << 2)
        else:
            last = first + runlen - 1
            seq = bytearray()
            if op < 0x80:
                if index != first:
                    seq += _zero_op(index - first)
                seq.append(0x80 | ((count - 1) << 2))
                if index != last:
                    seq += _zero_op(last - index)
            else:
                if index != first:
                    seq.append(_val_op(old, index - first))
                seq.append(0x80 | ((count - 1) << 2))
                if index != last:
                    seq.append(_val_op(old, last - index))
            delta = len(seq) - (2 if is_xzero else 1)
            if delta > 0 and end + delta > self.max_bytes:
                return self._promote(index, count)
            if delta and has_next:
                moved = buf[nxt:end]
                buf[nxt + delta : nxt + delta + len(moved)] = moved
            end += delta
            buf[end] = 0  # sdsIncrLen, before the copy that may overwrite it
            buf[p : p + len(seq)] = seq
        q = prev if prev >= 0 else HEADER_SIZE
        scan = 5
        while q < end and scan:
            scan -= 1
            op = buf[q]
            if op < 0x80:
                q += 2 if op >= 0x40 else 1
                continue
            if q + 1 < end:
                nxt_op = buf[q + 1]
                if nxt_op >= 0x80 and (op >> 2) == (nxt_op >> 2):
                    length = (op & 3) + (nxt_op & 3) + 2
                    if length <= SPARSE_VAL_MAX_LEN:
                        buf[q] = (op & 0xFC) | (length - 1)
                        del buf[q + 1]
                        end -= 1
                        buf[end] = 0
                        continue
            q += 1
        self.tail = buf[end]
        del buf[end:]
        buf[15] |= 0x80
        self.data = buf
        return 1

    def merge_from(self, raw: bytes | bytearray) -> None:
        """Raise every register to ``raw``'s value, as PFMERGE writes its result (``raw`` >= ours).

        Like Redis, a sparse HLL gets one ``hllSparseSet`` per non-zero register,
        in register order, promoting to dense on the way if it must.
        """
        if self.data[4] == SPARSE and max(raw) <= SPARSE_VAL_MAX_VALUE:
            if self.firsts is not None and self.data[HEADER_SIZE:] == EMPTY_SPARSE[HEADER_SIZE:]:
                body = _sparse_from_empty(raw, self.max_bytes)
                if body is None:
                    self.set_dense(raw)
                elif body:
                    self.data[HEADER_SIZE:] = body
                    self.data[15] |= 0x80
                    decoded = _decode_sparse(self.data)
                    assert decoded is not None
                    self.firsts, self.kinds, self.histo = decoded
                return
            for match in _NONZERO.finditer(raw):
                index = match.start()
                if self.set_register(index, raw[index]) == 1 and self.data[4] == DENSE:
                    break
            else:
                return
        self.set_dense(raw)

    def decode_sparse_text(self) -> bytes:
        """Return the ``PFDEBUG DECODE`` text of the sparse code."""
        data = self.data
        end = len(data)
        p = HEADER_SIZE
        parts = []
        while p < end:
            op = data[p]
            if op < 0x40:
                parts.append(b"z:%d" % (op + 1))
                p += 1
            elif op < 0x80:
                parts.append(b"Z:%d" % ((((op & 0x3F) << 8) | (data[p + 1] if p + 1 < end else self.tail)) + 1))
                p += 2
            else:
                parts.append(b"v:%d,%d" % (((op >> 2) & 0x1F) + 1, (op & 3) + 1))
                p += 1
        return b" ".join(parts)


# -- the identity cache -----------------------------------------------------------------

_CACHE: dict[int, tuple[bytes, HyperLogLog]] = {}
_CACHE_SIZE: Final = 256


def peek(value: bytes) -> HyperLogLog | None:
    """Return the cached working form of ``value`` without taking it out, if any."""
    entry = _CACHE.get(id(value))
    if entry is not None and entry[0] is value:
        return entry[1]
    return None


def load(value: bytes) -> HyperLogLog:
    """Take the working form of the HLL string ``value`` (cached, or decoded now)."""
    entry = _CACHE.pop(id(value), None)
    if entry is not None and entry[0] is value:
        return entry[1]
    return HyperLogLog(bytearray(value))


def remember(value: bytes, hll: HyperLogLog) -> None:
    """File ``hll`` as the working form of the stored string ``value``."""
    cache = _CACHE
    cache[id(value)] = (value, hll)
    if len(cache) > _CACHE_SIZE:
        del cache[next(iter(cache))]

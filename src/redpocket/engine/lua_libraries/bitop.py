"""``bit``: LuaBitOp (tobit, tohex, bnot, band, bor, bxor, shifts, rotations, bswap)."""

from __future__ import annotations

import struct as _struct
from collections.abc import Callable
from typing import Any

from .common import LibraryContext


def _tobit(value: Any) -> int:
    """Normalise a number to a signed 32-bit integer as LuaBitOp does: the low word of ``n + 2^52 + 2^51``."""
    bits = _struct.unpack("<Q", _struct.pack("<d", float(value) + 6755399441055744.0))[0] & 0xFFFFFFFF
    return bits - 0x100000000 if bits & 0x80000000 else bits


def _signed32(value: int) -> int:
    """Return the low 32 bits of an integer as a signed 32-bit integer."""
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value & 0x80000000 else value


def bit_library(context: LibraryContext) -> dict[bytes, Any]:
    """Return the functions of the ``bit`` table."""

    def check(args: tuple[Any, ...], index: int, function: str) -> int:
        return _tobit(context.check_number(args, index, function))

    def fold(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
        def apply(*args: Any) -> int:
            result = check(args, 0, name) & 0xFFFFFFFF
            for index in range(1, len(args)):
                result = op(result, check(args, index, name) & 0xFFFFFFFF)
            return _signed32(result)

        return apply

    def shift(name: str, op: Callable[[int, int], int]) -> Callable[..., int]:
        def apply(*args: Any) -> int:
            value = check(args, 0, name) & 0xFFFFFFFF
            amount = check(args, 1, name) & 31
            return _signed32(op(value, amount))

        return apply

    def tobit(*args: Any) -> int:
        return check(args, 0, "tobit")

    def bnot(*args: Any) -> int:
        return _signed32(~check(args, 0, "bnot"))

    def tohex(*args: Any) -> bytes:
        value = check(args, 0, "tohex") & 0xFFFFFFFF
        count = check(args, 1, "tohex") if len(args) > 1 and args[1] is not None else 8
        upper = count < 0
        count = min(abs(count), 8) if count != -(2**31) else 8
        text = b"%0*x" % (count, value & ((1 << (4 * count)) - 1)) if count else b""
        return text.upper() if upper else text

    def bswap(*args: Any) -> int:
        value = check(args, 0, "bswap") & 0xFFFFFFFF
        return _signed32(int.from_bytes(value.to_bytes(4, "big"), "little"))

    return {
        b"tobit": tobit,
        b"tohex": tohex,
        b"bnot": bnot,
        b"band": fold("band", lambda a, b: a & b),
        b"bor": fold("bor", lambda a, b: a | b),
        b"bxor": fold("bxor", lambda a, b: a ^ b),
        b"lshift": shift("lshift", lambda v, n: v << n),
        b"rshift": shift("rshift", lambda v, n: v >> n),
        b"arshift": shift("arshift", lambda v, n: (v - (1 << 32) if v & 0x80000000 else v) >> n),
        b"rol": shift("rol", lambda v, n: ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF),
        b"ror": shift("ror", lambda v, n: ((v >> n) | (v << (32 - n))) & 0xFFFFFFFF),
        b"bswap": bswap,
    }

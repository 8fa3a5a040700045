"""x87 80-bit ``long double`` arithmetic, emulated exactly, for INCRBYFLOAT and HINCRBYFLOAT.

Redis 7.0 parses both operands with ``strtold``, adds them as ``long
double`` (64-bit mantissa on x86-64) and prints the sum with ``%.17Lf``
with trailing zeros trimmed (``ld2string(..., LD_STR_HUMAN)``).  Python
floats have a 53-bit mantissa, so the results differ in the last digits;
here every value is an exact :class:`~fractions.Fraction` rounded to the
long double grid (round half to even, subnormals, overflow to infinity),
which reproduces Redis's replies digit for digit.

Infinities are ``float`` infinities; every finite value is a ``Fraction``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Final

LongDouble = Fraction | float

MANTISSA_BITS: Final = 64
# The smallest subnormal is 2**-16445; values at or above 2**16384 overflow.
MIN_EXPONENT: Final = -16445
MAX_EXPONENT: Final = 16384
# Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses inputs this long or longer.
MAX_LONG_DOUBLE_CHARS: Final = 5 * 1024

_INF: Final = float("inf")
_SPACE: Final = frozenset(b" \t\n\v\f\r")
_DECIMAL_RE: Final = re.compile(rb"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?\Z")
_HEX_RE: Final = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?\Z")
_INF_RE: Final = re.compile(rb"([+-]?)inf(?:inity)?\Z", re.IGNORECASE)


def round_fraction(value: Fraction) -> LongDouble:
    """Round an exact rational to the nearest long double (ties to even); may give ``±inf``."""
    num, den = value.numerator, value.denominator
    if num == 0:
        return Fraction(0)
    negative = num < 0
    if negative:
        num = -num
    # floor(log2(num / den))
    top = num.bit_length() - den.bit_length()
    if (num << -top if top < 0 else num) < (den << top if top > 0 else den):
        top -= 1
    if top >= MAX_EXPONENT:
        return -_INF if negative else _INF
    exponent = max(top - (MANTISSA_BITS - 1), MIN_EXPONENT)
    if exponent >= 0:
        quotient, remainder = divmod(num, den << exponent)
        divisor = den << exponent
    else:
        quotient, remainder = divmod(num << -exponent, den)
        divisor = den
    twice = remainder * 2
    if twice > divisor or (twice == divisor and quotient & 1):
        quotient += 1
    if quotient.bit_length() + exponent > MAX_EXPONENT:
        return -_INF if negative else _INF
    if negative:
        quotient = -quotient
    if exponent >= 0:
        return Fraction(quotient << exponent)
    return Fraction(quotient, 1 << -exponent)


def _scaled(sign: bytes, mantissa: int, base: int, exponent: int, magnitude: int) -> LongDouble | None:
    """Build ``mantissa * base**exponent`` rounded, or ``None`` on overflow/underflow (ERANGE)."""
    if mantissa == 0:
        return Fraction(0)
    # ``magnitude`` estimates log_base of the value: reject absurd exponents
    # before computing a huge power.
    limit = 4940 if base == 10 else 16450
    if magnitude > limit + 10:
        return None
    if magnitude < -(limit + 30):
        return None
    value = Fraction(mantissa) * base**exponent if exponent >= 0 else Fraction(mantissa, base**-exponent)
    result = round_fraction(value)
    if result == 0 or (type(result) is float and math.isinf(result)):
        return None
    return -result if sign == b"-" else result


def parse_long_double(text: bytes) -> LongDouble | None:
    """Parse like Redis's ``string2ld`` (``strtold``); return ``None`` where Redis refuses the text.

    Refused: empty or overlong text, a leading space, trailing garbage,
    ``nan``, and values that overflow or underflow to zero.
    """
    if not text or len(text) >= MAX_LONG_DOUBLE_CHARS:
        return None
    # strtold stops at a NUL, and Redis 7.0 refuses a parse that did not use every byte.
    if text[0] in _SPACE or b"\0" in text:
        return None
    match = _DECIMAL_RE.match(text)
    if match is not None:
        sign, whole, fraction, exponent_text = match.groups()
        fraction = fraction or b""
        if not whole and not fraction:
            return None
        digits = (whole + fraction).lstrip(b"0")
        exponent = int(exponent_text) if exponent_text else 0
        if not digits:
            return Fraction(0)
        exponent -= len(fraction)
        return _scaled(sign, _int_from_decimal(digits), 10, exponent, exponent + len(digits))
    match = _HEX_RE.match(text)
    if match is not None:
        sign, whole, fraction, exponent_text = match.groups()
        fraction = fraction or b""
        if not whole and not fraction:
            return None
        digits = (whole + fraction).lstrip(b"0")
        exponent = int(exponent_text) if exponent_text else 0
        if not digits:
            return Fraction(0)
        exponent -= 4 * len(fraction)
        return _scaled(sign, int(digits, 16), 2, exponent, exponent + 4 * len(digits))
    match = _INF_RE.match(text)
    if match is not None:
        return -_INF if match.group(1) == b"-" else _INF
    return None


_CHUNK = 4000  # below CPython's int<->str digit limit


def _int_from_decimal(digits: bytes) -> int:
    """Convert decimal digits to an int, in chunks (values near 1e4932 exceed CPython's digit limit)."""
    value = 0
    for start in range(0, len(digits), _CHUNK):
        chunk = digits[start : start + _CHUNK]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _decimal_text(number: int) -> bytes:
    """Format a non-negative int in decimal, in chunks (see :func:`_int_from_decimal`)."""
    if number < 10**_CHUNK:
        return b"%d" % number
    high, low = divmod(number, 10**_CHUNK)
    return _decimal_text(high) + (b"%d" % low).rjust(_CHUNK, b"0")


def add_long_double(left: LongDouble, right: LongDouble) -> LongDouble:
    """Add two long doubles with long double rounding; ``nan`` when ``inf - inf``."""
    if isinstance(left, Fraction) and isinstance(right, Fraction):
        return round_fraction(left + right)
    if type(left) is not float:
        return right
    if type(right) is not float:
        return left
    return left + right


def is_finite(value: LongDouble) -> bool:
    """Tell whether ``value`` is neither infinite nor ``nan``."""
    return type(value) is not float or math.isfinite(value)


def format_long_double_human(value: LongDouble) -> bytes:
    """Format like ``ld2string(..., LD_STR_HUMAN)``: ``%.17Lf`` with trailing zeros trimmed."""
    if not isinstance(value, Fraction):
        if math.isnan(value):
            return b"nan"
        if math.isinf(value):
            return b"inf" if value > 0 else b"-inf"
        value = Fraction(value)
    negative = value < 0
    scaled = abs(value) * 10**17
    # glibc prints the exact binary value, rounding half to even.
    digits = round(scaled)
    text = _decimal_text(digits).rjust(18, b"0")
    whole, fraction = text[:-17], text[-17:].rstrip(b"0")
    result = whole + b"." + fraction if fraction else whole
    if negative and result != b"0":
        result = b"-" + result
    return result


def incr_by_float(current: bytes | None, increment: LongDouble) -> LongDouble | None:
    """Add ``increment`` to the long double stored as ``current`` (absent = 0); ``None`` if unparsable."""
    if current is None:
        base: LongDouble = Fraction(0)
    else:
        parsed = parse_long_double(current)
        if parsed is None:
            return None
        base = parsed
    return add_long_double(base, increment)

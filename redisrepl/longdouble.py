"""Redis's long double arithmetic (INCRBYFLOAT, HINCRBYFLOAT), done exactly.

Redis on x86-64 parses increments with strtold(), adds them as x87 80-bit
long doubles (64-bit significand) and prints the sum with "%.17Lf" before
trimming trailing zeros (util.c ld2string, LD_STR_HUMAN). A Python float has
only 53 bits, so "10.5" + "0.1" would not give Redis's "10.6" and values up
to 1.19e4932 would overflow. This module models the same steps with exact
integers instead:

  * a finite value is a pair (m, e) meaning m * 2**e, m a signed int,
    and INF stands for either infinity;
  * parse() accepts what Redis's string2ld() accepts (glibc strtold syntax,
    whole string, no leading space, no NaN, no overflow, no underflow to 0)
    and rounds to the nearest long double, ties to even;
  * add() rounds the exact sum the way the FPU does; INF means overflow;
  * format_human() is "%.17Lf" (exact decimal, ties to even) trimmed.

Sans-IO and pure: no floats anywhere.
"""

import re

INF = "inf"   # the result of an overflow or an infinite operand

_PRECISION = 64                # bits in the x87 significand
_MIN_EXP = -16445              # exponent of the smallest subnormal: 2**-16445
_MAX_EXP = 16384 - _PRECISION  # largest finite is (2**64 - 1) * 2**16320
_TOP = 1 << _PRECISION
_HIGH_BIT = 1 << (_PRECISION - 1)

# string2ld() refuses strings of MAX_LONG_DOUBLE_CHARS (5k) or more.
_MAX_CHARS = 5 * 1024

# Decimal magnitudes outside these bounds certainly overflow / underflow,
# checked before building 10**exponent for absurd exponents.
_MAX_DECIMAL_MAGNITUDE = 4935
_MIN_DECIMAL_MAGNITUDE = -4955

# glibc strtold's syntax: whole-string matches only (Redis rejects leftovers).
_DECIMAL = re.compile(
    rb"([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?")
_HEX = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)(?:\.([0-9a-fA-F]*))?|\.([0-9a-fA-F]+))"
    rb"(?:[pP]([+-]?\d+))?")
_INFINITY = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)
_SPACE = b" \t\n\v\f\r"

# Python refuses int <-> decimal str conversions past 4300 digits; a long
# double reaches 4933, so big numbers go through in chunks.
_CHUNK = 4000
_CHUNK_POWER = 10 ** _CHUNK


def parse(data):
    """The long double string2ld() reads from ``data``, or None if invalid.

    Returns (m, e), INF for either infinity (its sign cannot matter: any
    sum with an infinity is refused), or None.
    """
    if not data or len(data) >= _MAX_CHARS or data[0] in _SPACE:
        return None
    # The regexes below must match the whole string, so a NUL inside it is
    # refused, as string2ld() checks that strtold() consumed every byte.
    match = _DECIMAL.fullmatch(data)
    if match:
        sign, whole, frac, only_frac, exponent = match.groups()
        digits = (whole or b"") + (frac or only_frac or b"")
        scale = -len(frac or only_frac or b"")
        return _from_decimal(sign == b"-", digits, scale, exponent)
    match = _HEX.fullmatch(data)
    if match:
        sign, whole, frac, only_frac, exponent = match.groups()
        digits = (whole or b"") + (frac or only_frac or b"")
        scale = -4 * len(frac or only_frac or b"")
        return _from_hex(sign == b"-", digits, scale, exponent)
    match = _INFINITY.fullmatch(data)
    if match:
        return INF
    return None   # NaN, or not a number at all


def add(a, b):
    """a + b rounded to a long double; INF when it is not finite (or NaN)."""
    if a is INF or b is INF:
        return INF
    (ma, ea), (mb, eb) = a, b
    exp = min(ea, eb)
    total = (ma << (ea - exp)) + (mb << (eb - exp))
    if total == 0:
        return (0, 0)
    if exp >= 0:
        rounded = _round(abs(total) << exp, 1)
    else:
        rounded = _round(abs(total), 1 << -exp)
    if rounded is INF:
        return INF
    # A nonzero exact sum of two long doubles never rounds to zero.
    mantissa, exponent = rounded
    return (-mantissa if total < 0 else mantissa, exponent)


def format_human(value):
    """ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros trimmed."""
    mantissa, exponent = value
    magnitude = abs(mantissa)
    if exponent >= 0:
        scaled = (magnitude << exponent) * 10 ** 17
    else:
        scaled = _div_round_even(magnitude * 10 ** 17, 1 << -exponent)
    whole, frac = divmod(scaled, 10 ** 17)
    sign = "-" if mantissa < 0 else ""
    text = f"{sign}{_int_to_str(whole)}.{frac:017d}"
    text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


# -- parsing helpers ---------------------------------------------------------

def _from_decimal(negative, digits, scale, exponent):
    digits = digits.lstrip(b"0")
    if not digits:
        return (0, 0)
    scale += _exponent_value(exponent)
    magnitude = len(digits) + scale   # value is in [10**(mag-1), 10**mag)
    if magnitude > _MAX_DECIMAL_MAGNITUDE:
        return None   # ERANGE overflow: string2ld refuses it
    if magnitude < _MIN_DECIMAL_MAGNITUDE:
        return None   # ERANGE underflow to zero: refused too
    number = _str_to_int(digits)
    if scale >= 0:
        rounded = _round(number * 10 ** scale, 1)
    else:
        rounded = _round(number, 10 ** -scale)
    return _signed(negative, rounded)


def _from_hex(negative, digits, scale, exponent):
    digits = digits.lstrip(b"0")
    if not digits:
        return (0, 0)
    scale += _exponent_value(exponent)
    bits = 4 * len(digits) + scale
    if bits > 16384 + 8:
        return None
    if bits < _MIN_EXP - 8:
        return None
    number = int(digits, 16)
    if scale >= 0:
        rounded = _round(number << scale, 1)
    else:
        rounded = _round(number, 1 << -scale)
    return _signed(negative, rounded)


def _exponent_value(exponent):
    """The exponent digits as an int, clamped: any |exp| >= 10**9 decides
    overflow or underflow on its own given at most 5k significant digits."""
    if not exponent:
        return 0
    negative = exponent[:1] == b"-"
    digits = exponent.lstrip(b"+-").lstrip(b"0") or b"0"
    value = int(digits) if len(digits) < 10 else 10 ** 9
    return -value if negative else value


def _signed(negative, rounded):
    if rounded is None or rounded is INF:
        return None   # zero from underflow, or overflow: both ERANGE
    mantissa, exponent = rounded
    return (-mantissa if negative else mantissa, exponent)


# -- exact rounding ----------------------------------------------------------

def _round(num, den):
    """num/den (both > 0) rounded to a long double: (m, e) with m > 0,
    INF on overflow, None when it rounds to zero."""
    exponent = num.bit_length() - den.bit_length() - _PRECISION
    if _quotient_at(num, den, exponent) >= _TOP:
        exponent += 1
    # Below the normal range the quantum stays 2**_MIN_EXP (subnormals).
    exponent = max(exponent, _MIN_EXP)
    if exponent >= 0:
        mantissa = _div_round_even(num, den << exponent)
    else:
        mantissa = _div_round_even(num << -exponent, den)
    if mantissa == _TOP:
        mantissa, exponent = _HIGH_BIT, exponent + 1
    if mantissa == 0:
        return None
    if exponent > _MAX_EXP:
        return INF
    return mantissa, exponent


def _quotient_at(num, den, exponent):
    if exponent >= 0:
        return num // (den << exponent)
    return (num << -exponent) // den


def _div_round_even(num, den):
    quotient, remainder = divmod(num, den)
    twice = remainder << 1
    if twice > den or (twice == den and quotient & 1):
        quotient += 1
    return quotient


# -- big decimal conversions -------------------------------------------------

def _str_to_int(digits):
    if len(digits) <= _CHUNK:
        return int(digits)
    return (_str_to_int(digits[:-_CHUNK]) * _CHUNK_POWER
            + int(digits[-_CHUNK:]))


def _int_to_str(number):
    if number < _CHUNK_POWER:
        return str(number)
    high, low = divmod(number, _CHUNK_POWER)
    return _int_to_str(high) + str(low).zfill(_CHUNK)

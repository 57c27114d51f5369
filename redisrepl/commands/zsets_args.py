"""Arguments of the sorted set commands, read with Redis's rules and errors.

Two different readers of a double, as in Redis (the blocking timeouts are
args.parse_timeout_seconds):
  * scores, increments, weights: string2d -- the whole string, no leading
    space, no NaN, no overflow, no underflow to zero;
  * range bounds ("(1.5", "-inf"): strtod with only the end checked -- a
    leading space is fine, "" is 0, and anything after a NUL is ignored.
"""

import re

from redisrepl import errors
from redisrepl.commands.args import parse_int
from redisrepl.resp.values import ReplyError
from redisrepl.zset import LEX_MAX, LEX_MIN, LexBound

NAN_SCORE = ReplyError("ERR resulting score is not a number (NaN)")
SCORE_RANGE = ReplyError("ERR min or max is not a float")
LEX_RANGE = ReplyError("ERR min or max not valid string range item")
NOT_POSITIVE = ReplyError("ERR value is out of range, must be positive")

# glibc strtod's syntax (C locale). Groups: the digits of a decimal or hex
# mantissa, to tell an underflow (non-zero digits read as 0) from a zero.
_DECIMAL = re.compile(rb"[+-]?(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE][+-]?\d+)?")
_HEX = re.compile(
    rb"[+-]?0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))"
    rb"(?:[pP][+-]?\d+)?")
_INFINITY = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)
_NAN = re.compile(rb"[+-]?nan(?:\([0-9A-Za-z_]*\))?", re.IGNORECASE)
_C_SPACE = b" \t\n\v\f\r"
_INF = float("inf")


def _convert(match, text):
    """The double a strtod syntax match spells, and whether it overflowed or
    underflowed to zero (glibc's ERANGE cases Redis refuses)."""
    if match.re is _DECIMAL:
        value = float(text)
        if value != 0.0 and value != _INF and value != -_INF:
            return value, False
        digits = b"".join(g for g in match.groups() if g)
    elif match.re is _HEX:
        try:
            value = float.fromhex(text.decode())
        except OverflowError:
            return _INF, True
        digits = b"".join(g for g in match.groups() if g)
    elif match.re is _INFINITY:
        return (-_INF if text[:1] == b"-" else _INF), False
    else:
        return float("nan"), False
    if value in (_INF, -_INF):
        return value, True
    if value == 0.0 and digits.strip(b"0"):
        return value, True
    return value, False


def _strtod(text):
    """(value, rest, out_of_range) as strtod reads a prefix of ``text``, or
    None if it reads nothing at all."""
    start = 0
    while start < len(text) and text[start] in _C_SPACE:
        start += 1
    body = text[start:]
    for pattern in (_HEX, _DECIMAL, _INFINITY, _NAN):
        match = pattern.match(body)
        if match:
            value, out_of_range = _convert(match, match.group())
            return value, body[match.end():], out_of_range
    return None


def parse_double(arg, error=errors.NOT_FLOAT):
    """Redis's getDoubleFromObject (string2d): ``error`` unless the whole
    argument is a finite-or-infinite, non-NaN double in range."""
    # Fast paths for plain decimal text (float() alone is laxer than Redis:
    # "1_0", " 1", "nan"). Digits only cannot overflow below 309 of them.
    if arg.isdigit() and len(arg) < 309:
        return float(arg)
    match = _DECIMAL.fullmatch(arg)
    if match:
        value, out_of_range = _convert(match, arg)
        if out_of_range:
            raise error
        return value
    if not arg or arg[0] in _C_SPACE:
        raise error
    parsed = _strtod(arg)
    if parsed is None:
        raise error
    value, rest, out_of_range = parsed
    if rest or out_of_range or value != value:
        raise error
    return value


def _range_double(text):
    """zslParseRange's strtod: only the end is checked."""
    parsed = _strtod(text)
    if parsed is None:
        # Nothing read: fine only if the string is empty (as C sees it).
        if text[:1] in (b"", b"\0"):
            return 0.0
        raise SCORE_RANGE
    value, rest, _out_of_range = parsed
    if (rest and rest[0] != 0) or value != value:
        raise SCORE_RANGE
    return value


def parse_score_range(low, high):
    """(min, min_exclusive, max, max_exclusive) of ZRANGEBYSCORE & co."""
    low_ex = low[:1] == b"("
    high_ex = high[:1] == b"("
    return (_range_double(low[1:] if low_ex else low), low_ex,
            _range_double(high[1:] if high_ex else high), high_ex)


def _lex_bound(item):
    first = item[:1]
    if first == b"(" or first == b"[":
        return LexBound(item[1:], first == b"(")
    if (first == b"+" or first == b"-") and item[1:2] in (b"", b"\0"):
        return LexBound(None, True, LEX_MAX if first == b"+" else LEX_MIN)
    raise LEX_RANGE


def parse_lex_range(low, high):
    """(low, high) LexBounds of ZRANGEBYLEX & co."""
    return _lex_bound(low), _lex_bound(high)


def parse_positive(arg):
    """getPositiveLongFromObjectOrReply: an integer >= 0; one error for
    anything else, not an integer included."""
    value = parse_int(arg, NOT_POSITIVE)
    if value < 0:
        raise NOT_POSITIVE
    return value


def parse_range_long(arg, low, high, message):
    """getRangeLongFromObjectOrReply with a message: ``message`` for any
    failure, not an integer or out of [low, high]."""
    value = parse_int(arg, message)
    if not low <= value <= high:
        raise message
    return value

"""Argument parsing shared by every command family, with Redis's errors."""

from redisrepl import errors
from redisrepl.ctext import string2ll
from redisrepl.resp.values import ReplyError


def parse_int(arg, error=errors.NOT_INTEGER):
    """A signed 64-bit integer in Redis's strict form (string2ll)."""
    value = string2ll(arg)
    if value is None:
        raise error
    return value


def parse_nonneg_int(arg, error):
    value = parse_int(arg, error)
    if value < 0:
        raise error
    return value


_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1


def parse_int32(arg, error=None):
    """A C int, as getIntFromObjectOrReply: ``error`` (if given) for any
    failure; otherwise NOT_INTEGER, or Redis's range text past 32 bits."""
    value = parse_int(arg, error or errors.NOT_INTEGER)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise error or errors.INT32_RANGE
    return value


def parse_scan_options(argv, start, allow_type=False):
    """[MATCH pattern] [COUNT count] [TYPE type] from argv[start:], by
    Redis's rules (TYPE for SCAN only): (pattern or None for all, count,
    lower-cased type name or None)."""
    pattern = type_filter = None
    count = 10
    i = start
    while i < len(argv):
        option = argv[i].lower()
        has_value = i + 1 < len(argv)
        if option == b"count" and has_value:
            count = parse_int(argv[i + 1])
            if count < 1:
                raise errors.SYNTAX
        elif option == b"match" and has_value:
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif option == b"type" and allow_type and has_value:
            type_filter = argv[i + 1].lower()
        else:
            raise errors.SYNTAX
        i += 2
    return pattern, count, type_filter


def parse_scan_cursor(arg):
    """The cursor of SCAN/HSCAN/SSCAN/ZSCAN, read as Redis's strtoul does:
    an optional sign, then digits; "" is 0; a negative value wraps modulo
    2**64; a leading space, anything after the digits, or a value past
    2**64 - 1 is "ERR invalid cursor"."""
    digits = arg[1:] if arg[:1] in (b"+", b"-") else arg
    if not arg:
        return 0
    if not digits.isdigit() or int(digits) >= 1 << 64:
        raise errors.INVALID_CURSOR
    value = int(digits)
    return -value % (1 << 64) if arg[:1] == b"-" else value


def parse_timeout_seconds(arg, now_ms):
    """A blocking command's timeout in seconds (BLPOP, BZPOPMIN...), as
    Redis 7.0's getTimeoutFromObjectOrReply(UNIT_SECONDS): ms to wait,
    0 for ever.

    The value is a long double (string2ld), times 1000 rounded as a long
    double, then ceill() and cast to long long: "0.0001" waits 1 ms,
    "-0.1" is 0 (for ever), and anything at or past 2**63 ms, infinity
    included, casts to LLONG_MIN on x86-64: "timeout is negative". A
    deadline past LLONG_MAX wraps in Redis and never fires: for ever too.
    """
    from redisrepl import longdouble
    value = longdouble.parse(arg)
    if value is None:
        raise errors.TIMEOUT_NOT_FLOAT
    if value is longdouble.INF:
        raise errors.TIMEOUT_NEGATIVE
    mantissa, exponent = value
    if mantissa == 0:
        return 0
    num = abs(mantissa) * 1000
    if exponent >= 0:
        rounded = longdouble._round(num << exponent, 1)
    else:
        rounded = longdouble._round(num, 1 << -exponent)
    if rounded is None or rounded is longdouble.INF:
        # Below the smallest long double (never, from a product by 1000)
        # or past the largest: the cast gives LLONG_MIN.
        raise errors.TIMEOUT_NEGATIVE
    m, e = rounded
    if mantissa < 0:
        # ceill of a negative value rounds toward zero.
        ms = -((m << e) if e >= 0 else m >> -e)
    else:
        ms = (m << e) if e >= 0 else -((-m) >> -e)
    if ms < 0 or ms >= 1 << 63:
        raise errors.TIMEOUT_NEGATIVE
    if ms and now_ms + ms >= 1 << 63:
        return 0
    return ms


def parse_timeout_ms(arg, now_ms):
    """XREAD BLOCK <ms>, WAIT's timeout: getTimeoutFromObjectOrReply with
    UNIT_MILLISECONDS (parse_timeout_seconds is its UNIT_SECONDS twin).
    0 waits for ever. A deadline past LLONG_MAX wraps in Redis and never
    fires, so it waits for ever too (7.0.15 has no "out of range" check)."""
    value = string2ll(arg)
    if value is None:
        raise ReplyError("ERR timeout is not an integer or out of range")
    if value < 0:
        raise errors.TIMEOUT_NEGATIVE
    if value and now_ms + value >= 1 << 63:
        return 0
    return value

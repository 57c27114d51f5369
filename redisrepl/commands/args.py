"""Argument parsing shared by every command family, with Redis's errors."""

from redisrepl import errors
from redisrepl.ctext import string2ll


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

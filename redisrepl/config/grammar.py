"""The redis.conf grammar and Redis's number parsers, byte for byte.

Everything here works on bytes and mirrors one C helper of Redis 7.0:

    split_args      sdssplitargs   a config line into words (redisrepl.ctext)
    quote           sdscatrepr     a value as CONFIG REWRITE writes it
    string2ll       string2ll      strict integers (redisrepl.ctext)
    memtoull        memtoull       1k=1000, 1kb=1024 ... case-insensitive
    strtoll_octal   strtoll(.., 8) unixsocketperm
    string2d        string2d       latency-tracking-info-percentiles
    format_memory   rewriteConfigFormatMemory   1073741824 -> "1gb"
    arguments_to_text  redis-server's main(): argv overrides -> config text

No I/O, no state: the registry (registry.py) calls these.
"""

import math
import re

from redisrepl.ctext import split_args, string2ll  # noqa: F401 (the grammar's words)

LLONG_MIN = -(1 << 63)
LLONG_MAX = (1 << 63) - 1
ULLONG_MAX = (1 << 64) - 1

_C_SPACE = b" \t\n\v\f\r"          # isspace() in the C locale


_REPR = {0x5C: b"\\\\", 0x22: b'\\"', 0x0A: b"\\n", 0x0D: b"\\r",
         0x09: b"\\t", 0x07: b"\\a", 0x08: b"\\b"}


def quote(value: bytes) -> bytes:
    """sdscatrepr: double-quoted, escaped so split_args reads it back."""
    out = bytearray(b'"')
    for c in value:
        if c in _REPR:
            out += _REPR[c]
        elif 0x20 <= c < 0x7F:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out.append(0x22)
    return bytes(out)


_UNITS = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000 ** 2,
          b"mb": 1024 ** 2, b"g": 1000 ** 3, b"gb": 1024 ** 3}


def memtoull(s: bytes):
    """Redis's memtoull: bytes as an unsigned 64-bit int, or None on error.

    Quirks kept: "" and a bare unit ("kb") are 0; a plain number past
    2**64-1 saturates (strtoull's ERANGE is not checked when the unit is 1).
    """
    if s[:1] == b"-":
        return None
    i = 0
    while i < len(s) and 0x30 <= s[i] <= 0x39:
        i += 1
    mul = _UNITS.get(s[i:].lower())
    if mul is None or i >= 128:
        return None
    val = int(s[:i]) if i else 0
    val = min(val, ULLONG_MAX)
    if val > ULLONG_MAX // mul:
        return None
    return val * mul


def strtoll_octal(s: bytes):
    """strtoll(s, &end, 8) that must consume everything; None on error.

    Like C: leading blanks and a sign are allowed, "" parses as 0.
    """
    i, n = 0, len(s)
    while i < n and s[i] in _C_SPACE:
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 0x2D
        i += 1
    start = i
    while i < n and 0x30 <= s[i] <= 0x37:
        i += 1
    if i == start:
        # No digits: strtoll leaves end at the start of the string.
        return 0 if not s else None
    if i != n:
        return None
    v = int(s[start:i], 8)
    v = -v if neg else v
    if not LLONG_MIN <= v <= LLONG_MAX:
        return None
    return v


_DECIMAL = re.compile(
    rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?)\Z", re.I)
_HEXFLOAT = re.compile(
    rb"[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?\Z", re.I)


def string2d(s: bytes):
    """Redis's string2d (strtod, whole string, no NaN): float or None."""
    if not s or s[0] in _C_SPACE:
        return None
    try:
        if _DECIMAL.match(s):
            v = float(s)
        elif _HEXFLOAT.match(s):
            text = s.decode()
            if "p" not in text.lower():
                text += "p0"
            v = float.fromhex(text)
        else:
            return None
    except (OverflowError, ValueError):
        return None
    if math.isnan(v):
        return None
    if math.isinf(v) and b"inf" not in s.lower():
        return None     # ERANGE: overflow to HUGE_VAL
    if v == 0.0:
        low = s.lower().lstrip(b"+-")
        mantissa = low[2:].split(b"p")[0] if low.startswith(b"0x") \
            else low.split(b"e")[0]
        if any(c in b"123456789abcdef" for c in mantissa):
            return None     # ERANGE: underflow to zero
    return v


def format_double(v: float) -> bytes:
    """printf("%f") then trimDoubleString: 99.900000 -> 99.9, 50.0 -> 50."""
    text = b"%f" % v
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    return text


def format_memory(n: int) -> bytes:
    """rewriteConfigFormatMemory: the largest exact gb/mb/kb unit."""
    for unit, size in ((b"gb", 1 << 30), (b"mb", 1 << 20), (b"kb", 1 << 10)):
        if n and n % size == 0:
            return b"%d%s" % (n // size, unit)
    return b"%d" % n


def arguments_to_text(argv) -> bytes:
    """redis-server's command line as the config text it appends to the file.

    Each --name starts a new line; the words after it are its arguments,
    written quoted (so "--bind '1.2.3.4 ::1'" is ONE address). After a bare
    --name the next word is always an argument, even if it starts with --,
    except that a bare --save followed by --x (or last) means save "".
    """
    args = [a if isinstance(a, bytes) else a.encode("utf-8", "surrogateescape")
            for a in argv]
    out = bytearray()
    handled_last = True
    for j, arg in enumerate(args):
        last = j == len(args) - 1
        if arg == b"-" and (j == 0 or last):
            continue    # "read config from stdin": the caller's business
        if handled_last and arg.startswith(b"--"):
            if out:
                out += b"\n"
            out += arg[2:] + b" "
            words = split_args(arg)
            if words is not None and len(words) == 1:
                handled_last = False
                if arg.lower() == b"--save":
                    if not last and args[j + 1].startswith(b"--"):
                        out += b'""'
                        handled_last = True
                    elif last:
                        out += b'""'
                elif (arg.lower() == b"--sentinel" and not last
                      and args[j + 1].startswith(b"--")):
                    handled_last = True
            else:
                handled_last = True
        else:
            out += quote(arg) + b" "
            handled_last = True
    return bytes(out)

"""RESP2 and RESP3 encoders for reply values (see values.py). Sans-IO.

One walk over the value serves both protocols; what differs is a Dialect:
how nulls, maps, sets, pushes and the RESP3-only scalars (verbatim, double,
boolean, big number) are framed. ``encode`` speaks RESP2 (every client until
HELLO 3), ``encode_resp3`` RESP3; ``encoder_for(client.resp)`` picks one.
"""

from math import copysign

from redisrepl.resp.values import (
    NULL_ARRAY,
    BigNumber,
    Bool,
    Double,
    Map,
    Push,
    Raw,
    ReplyError,
    Set,
    Status,
    Verbatim,
)


def format_double(value):
    """Redis 7.0's addReplyDouble text: printf's %.17g, inf and -inf."""
    if value != value:
        # glibc prints a NaN's sign; Python's % formatting drops it.
        return b"-nan" if copysign(1.0, value) < 0 else b"nan"
    return b"%.17g" % value


def _bulk(data):
    return b"$%d\r\n%s\r\n" % (len(data), data)


class Dialect:
    """How one protocol frames what RESP2 and RESP3 frame differently."""

    __slots__ = ("null", "null_array", "map_tag", "map_factor", "set_tag",
                 "push_tag", "scalars")

    def __init__(self, null, null_array, map_tag, map_factor, set_tag,
                 push_tag, scalars):
        self.null = null
        self.null_array = null_array
        self.map_tag = map_tag          # header byte of a map ...
        self.map_factor = map_factor    # ... counting pairs (1) or items (2)
        self.set_tag = set_tag
        self.push_tag = push_tag
        self.scalars = scalars          # type -> value -> bytes


RESP2 = Dialect(
    null=b"$-1\r\n", null_array=b"*-1\r\n", map_tag=b"*", map_factor=2,
    set_tag=b"*", push_tag=b"*", scalars={
        Verbatim: _bulk,
        Double: lambda value: _bulk(format_double(value)),
        Bool: lambda value: b":1\r\n" if value else b":0\r\n",
        BigNumber: lambda value: _bulk(b"%d" % value),
    })

RESP3 = Dialect(
    null=b"_\r\n", null_array=b"_\r\n", map_tag=b"%", map_factor=1,
    set_tag=b"~", push_tag=b">", scalars={
        Verbatim: lambda value: b"=%d\r\ntxt:%s\r\n" % (len(value) + 4, value),
        Double: lambda value: b",%s\r\n" % format_double(value),
        Bool: lambda value: b"#t\r\n" if value else b"#f\r\n",
        BigNumber: lambda value: b"(%d\r\n" % value,
    })


def _encode_into(value, out, dialect):
    kind = type(value)
    if kind is bytes or kind is bytearray:
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif kind is Raw:
        out.append(value)
    elif value is None:
        out.append(dialect.null)
    elif kind is int or kind is bool:
        out.append(b":%d\r\n" % value)
    elif kind is Status:
        out.append(b"+%s\r\n" % value)
    elif kind is list or kind is tuple or kind is Set or kind is Push:
        tag = b"*" if kind is list or kind is tuple else (
            dialect.set_tag if kind is Set else dialect.push_tag)
        out.append(b"%s%d\r\n" % (tag, len(value)))
        for item in value:
            # Arrays of bulk strings (MGET, KEYS, SCAN) skip the recursion.
            if type(item) is bytes:
                out.append(b"$%d\r\n%s\r\n" % (len(item), item))
            else:
                _encode_into(item, out, dialect)
    elif kind is Map:
        out.append(b"%s%d\r\n" % (dialect.map_tag, dialect.map_factor * len(value)))
        for key, item in value:
            _encode_into(key, out, dialect)
            _encode_into(item, out, dialect)
    elif kind in dialect.scalars:
        out.append(dialect.scalars[kind](value))
    elif isinstance(value, ReplyError):
        out.append(b"-%s\r\n" % value.message)
    elif value is NULL_ARRAY:
        out.append(dialect.null_array)
    elif kind is str:
        data = value.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    else:
        raise TypeError(f"cannot encode reply value {value!r}")


def _make_encode(dialect):
    null = dialect.null

    def encode(value):
        # The hot path's reply types first, without building a list.
        kind = type(value)
        if kind is Raw:
            return value
        if kind is bytes or kind is bytearray:
            return b"$%d\r\n%s\r\n" % (len(value), value)
        if value is None:
            return null
        if kind is int:
            return b":%d\r\n" % value
        out = []
        _encode_into(value, out, dialect)
        return b"".join(out)

    return encode


encode = _make_encode(RESP2)
encode.__name__ = encode.__qualname__ = "encode"
encode.__doc__ = "Encode one reply value as RESP2 bytes."

encode_resp3 = _make_encode(RESP3)
encode_resp3.__name__ = encode_resp3.__qualname__ = "encode_resp3"
encode_resp3.__doc__ = "Encode one reply value as RESP3 bytes."

_ENCODERS = {2: encode, 3: encode_resp3}


def encoder_for(resp):
    """The encode function of protocol version ``resp`` (2 or 3)."""
    return _ENCODERS[resp]


def encode_command(argv):
    """Encode a command (list of bytes) as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)

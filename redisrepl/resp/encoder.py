"""RESP2 encoder for reply values (see values.py). Sans-IO."""

from redisrepl.resp.values import (
    NULL_ARRAY,
    Map,
    Raw,
    ReplyError,
    Set,
    Status,
)

_NULL_BULK = b"$-1\r\n"
_NULL_ARRAY = b"*-1\r\n"


def encode(value):
    """Encode one reply value as RESP2 bytes."""
    # Ordered by how often each type is returned on the hot path.
    kind = type(value)
    if kind is Raw:
        return value
    if kind is bytes or kind is bytearray:
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if value is None:
        return _NULL_BULK
    if kind is int:
        return b":%d\r\n" % value
    out = []
    _encode_into(value, out)
    return b"".join(out)


def _encode_into(value, out):
    kind = type(value)
    if kind is Raw:
        out.append(value)
    elif kind is bytes or kind is bytearray:
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))
    elif value is None:
        out.append(_NULL_BULK)
    elif kind is int or kind is bool:
        out.append(b":%d\r\n" % value)
    elif kind is Status:
        out.append(b"+%s\r\n" % value)
    elif kind is list or kind is tuple or kind is Set:
        out.append(b"*%d\r\n" % len(value))
        for item in value:
            _encode_into(item, out)
    elif kind is Map:
        out.append(b"*%d\r\n" % (2 * len(value)))
        for key, item in value:
            _encode_into(key, out)
            _encode_into(item, out)
    elif isinstance(value, ReplyError):
        out.append(b"-%s\r\n" % value.message)
    elif value is NULL_ARRAY:
        out.append(_NULL_ARRAY)
    elif kind is str:
        data = value.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    else:
        raise TypeError(f"cannot encode reply value {value!r}")


def encode_command(argv):
    """Encode a command (list of bytes) as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)

"""Listpacks (listpack.c): the compact encoding of small hashes, sorted
sets, list nodes and stream nodes in Redis 7.0.

Layout: total bytes (u32 LE), element count (u16 LE, 65535 = "count it"),
the elements, 0xFF. An element is an encoding byte (integer of 7, 13, 16,
24, 32 or 64 bits, or string of 6, 12 or 32-bit length), its data, and its
own length again ("backlen", 1-5 bytes) so it can be walked backwards.
Integers come back as their decimal bytes, as Redis hands them out.
"""

import struct

from redisrepl.ctext import string2ll
from redisrepl.stream import backlen_size

_HEADER = struct.Struct("<IH")
_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
COUNT_UNKNOWN = 65535
_END = 0xFF


class ListpackError(ValueError):
    pass


def _encode_backlen(n):
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                      (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


def _decode_backlen(blob, last):
    """The value of the backlen whose last byte is at ``last``, read
    backwards as lpDecodeBacklen does."""
    value = 0
    shift = 0
    pos = last
    while True:
        byte = blob[pos]
        value |= (byte & 127) << shift
        if not byte & 128:
            return value
        shift += 7
        pos -= 1
        if shift > 28:
            raise ListpackError("bad backlen")


def decode(blob):
    """The elements of a listpack, as bytes, after checking its structure
    the way lpValidateIntegrity(deep=1) does."""
    n = len(blob)
    if n < 7:
        raise ListpackError("listpack too short")
    total, count = _HEADER.unpack_from(blob, 0)
    if total != n:
        raise ListpackError("listpack size mismatch")
    if blob[n - 1] != _END:
        raise ListpackError("listpack without terminator")
    out = []
    append = out.append
    pos = 6
    end = n - 1
    while pos < end:
        start = pos
        enc = blob[pos]
        if enc < 0x80:                      # 7-bit uint
            append(b"%d" % enc)
            pos += 1
        elif enc < 0xC0:                    # 6-bit string length
            size = enc & 0x3F
            pos += 1
            append(bytes(blob[pos:pos + size]))
            pos += size
        elif enc < 0xE0:                    # 13-bit int
            if pos + 2 > end:
                raise ListpackError("truncated element")
            value = ((enc & 0x1F) << 8) | blob[pos + 1]
            if value >= 4096:
                value -= 8192
            append(b"%d" % value)
            pos += 2
        elif enc < 0xF0:                    # 12-bit string length
            if pos + 2 > end:
                raise ListpackError("truncated element")
            size = ((enc & 0x0F) << 8) | blob[pos + 1]
            pos += 2
            append(bytes(blob[pos:pos + size]))
            pos += size
        elif enc == 0xF0:                   # 32-bit string length
            if pos + 5 > end:
                raise ListpackError("truncated element")
            size = _U32.unpack_from(blob, pos + 1)[0]
            pos += 5
            append(bytes(blob[pos:pos + size]))
            pos += size
        elif enc == 0xF1:
            if pos + 3 > end:
                raise ListpackError("truncated element")
            append(b"%d" % _I16.unpack_from(blob, pos + 1)[0])
            pos += 3
        elif enc == 0xF2:
            if pos + 4 > end:
                raise ListpackError("truncated element")
            value = int.from_bytes(blob[pos + 1:pos + 4], "little", signed=True)
            append(b"%d" % value)
            pos += 4
        elif enc == 0xF3:
            if pos + 5 > end:
                raise ListpackError("truncated element")
            append(b"%d" % _I32.unpack_from(blob, pos + 1)[0])
            pos += 5
        elif enc == 0xF4:
            if pos + 9 > end:
                raise ListpackError("truncated element")
            append(b"%d" % _I64.unpack_from(blob, pos + 1)[0])
            pos += 9
        else:
            raise ListpackError("bad element encoding")
        entry_len = pos - start
        pos += backlen_size(entry_len)
        if pos > end:
            raise ListpackError("element runs past the end")
        if _decode_backlen(blob, pos - 1) != entry_len:
            raise ListpackError("backlen mismatch")
    if count != COUNT_UNKNOWN and count != len(out):
        raise ListpackError("listpack count mismatch")
    return out


# -- encoding ---------------------------------------------------------------------

def _encode_int(value):
    if 0 <= value <= 127:
        return bytes((value,))
    if -4096 <= value <= 4095:
        value &= 0x1FFF
        return bytes((0xC0 | (value >> 8), value & 0xFF))
    if -32768 <= value <= 32767:
        return b"\xf1" + _I16.pack(value)
    if -8388608 <= value <= 8388607:
        return b"\xf2" + (value & 0xFFFFFF).to_bytes(3, "little")
    if -2147483648 <= value <= 2147483647:
        return b"\xf3" + _I32.pack(value)
    return b"\xf4" + _I64.pack(value)


def encode_element(data):
    """One element as lpAppend writes it: strings that are canonical int64
    decimals are stored as integers."""
    if isinstance(data, int):
        body = _encode_int(data)
    else:
        n = len(data)
        value = string2ll(data) if 0 < n <= 20 else None
        if value is not None:
            body = _encode_int(value)
        elif n < 64:
            body = bytes((0x80 | n,)) + data
        elif n < 4096:
            body = bytes((0xE0 | (n >> 8), n & 0xFF)) + data
        else:
            body = b"\xf0" + _U32.pack(n) + data
    return body + _encode_backlen(len(body))


def encode(elements):
    """A listpack holding ``elements`` (bytes, or ints for integers)."""
    body = b"".join(map(encode_element, elements))
    count = len(elements)
    if count >= COUNT_UNKNOWN:
        count = COUNT_UNKNOWN
    return _HEADER.pack(len(body) + 7, count) + body + b"\xff"


def encoded_size(data):
    """Bytes one element takes (lpEntrySizeUnsafe), for node splitting."""
    return len(encode_element(data))

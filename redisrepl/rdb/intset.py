"""Intsets (intset.c): a set of integers as one sorted array of 16, 32 or
64-bit little-endian values, behind an 8-byte header (width, count)."""

import struct

_HEADER = struct.Struct("<II")
_FORMATS = {2: "h", 4: "i", 8: "q"}


class IntsetError(ValueError):
    pass


def decode(blob):
    """The members, in order, after intsetValidateIntegrity's checks:
    a known width, a matching size, strictly ascending values."""
    if len(blob) < 8:
        raise IntsetError("intset too short")
    width, count = _HEADER.unpack_from(blob, 0)
    fmt = _FORMATS.get(width)
    if fmt is None:
        raise IntsetError("bad intset encoding")
    if count == 0 or len(blob) != 8 + width * count:
        raise IntsetError("intset size mismatch")
    values = struct.unpack_from("<%d%s" % (count, fmt), blob, 8)
    for i in range(1, count):
        if values[i] <= values[i - 1]:
            raise IntsetError("intset not sorted or has duplicates")
    return values


def encode(values):
    """An intset of ``values`` (sorted, distinct), in the smallest width
    that holds them all, as intsetAdd would have grown it."""
    width = 2
    if values:
        low, high = values[0], values[-1]
        if low < -2147483648 or high > 2147483647:
            width = 8
        elif low < -32768 or high > 32767:
            width = 4
    return _HEADER.pack(width, len(values)) + struct.pack(
        "<%d%s" % (len(values), _FORMATS[width]), *values)

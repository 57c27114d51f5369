"""Ziplists (ziplist.c) and zipmaps (zipmap.c): the compact encodings of
RDB versions before 10. Redis 7.0 only reads them (and converts them to
listpacks), so do we; ``encode_ziplist`` and ``encode_zipmap`` exist to
build test inputs the way old Redis versions wrote them.

Ziplist layout: total bytes (u32 LE), offset of the last entry (u32 LE),
count (u16 LE, 65535 = "count it"), entries, 0xFF. An entry is the
previous entry's length (1 byte, or 0xFE + u32 LE), an encoding header
(string of 6/14/32-bit length, or integer of 8/16/24/32/64 bits, or an
immediate 0..12) and the data.
"""

import struct

from redisrepl.ctext import string2ll

_HEADER = struct.Struct("<IIH")
_U32 = struct.Struct("<I")
_U32_BE = struct.Struct(">I")
_INTS = {0xC0: (2, "<h"), 0xD0: (4, "<i"), 0xE0: (8, "<q"),
         0xF0: (3, None), 0xFE: (1, "<b")}
_END = 0xFF


class ZiplistError(ValueError):
    pass


def decode_ziplist(blob):
    """The entries of a ziplist as bytes, after ziplistValidateIntegrity's
    checks (sizes, tail offset, prevlen chain, count)."""
    n = len(blob)
    if n < 11:
        raise ZiplistError("ziplist too short")
    total, tail, count = _HEADER.unpack_from(blob, 0)
    if total != n or blob[n - 1] != _END:
        raise ZiplistError("ziplist size mismatch")
    out = []
    pos = 10
    end = n - 1
    prev_len = 0
    last_start = 10
    while pos < end:
        start = pos
        first = blob[pos]
        if first < 0xFE:
            stated_prev = first
            pos += 1
        else:
            if pos + 5 > end:
                raise ZiplistError("truncated prevlen")
            stated_prev = _U32.unpack_from(blob, pos + 1)[0]
            pos += 5
        if stated_prev != prev_len:
            raise ZiplistError("prevlen mismatch")
        if pos >= end:
            raise ZiplistError("truncated entry")
        enc = blob[pos]
        kind = enc >> 6
        if kind == 0:
            size = enc & 0x3F
            pos += 1
        elif kind == 1:
            if pos + 2 > end:
                raise ZiplistError("truncated entry")
            size = ((enc & 0x3F) << 8) | blob[pos + 1]
            pos += 2
        elif kind == 2:
            if pos + 5 > end:
                raise ZiplistError("truncated entry")
            size = _U32_BE.unpack_from(blob, pos + 1)[0]
            pos += 5
        else:
            size = None
        if size is not None:
            if pos + size > end:
                raise ZiplistError("entry runs past the end")
            out.append(bytes(blob[pos:pos + size]))
            pos += size
        elif 0xF1 <= enc <= 0xFD:
            out.append(b"%d" % ((enc & 0x0F) - 1))
            pos += 1
        else:
            width, fmt = _INTS.get(enc, (None, None))
            if width is None:
                raise ZiplistError("bad entry encoding")
            if pos + 1 + width > end:
                raise ZiplistError("entry runs past the end")
            raw = blob[pos + 1:pos + 1 + width]
            if fmt is None:
                value = int.from_bytes(raw, "little", signed=True)
            else:
                value = struct.unpack(fmt, raw)[0]
            out.append(b"%d" % value)
            pos += 1 + width
        prev_len = pos - start
        last_start = start
    if pos != end:
        raise ZiplistError("entry runs past the end")
    if out and tail != last_start or not out and tail != 10:
        raise ZiplistError("ziplist tail offset mismatch")
    if count != 65535 and count != len(out):
        raise ZiplistError("ziplist count mismatch")
    return out


def _entry_body(data):
    value = string2ll(data) if 0 < len(data) <= 20 else None
    if value is not None:
        if 0 <= value <= 12:
            return bytes((0xF1 + value,))
        if -128 <= value <= 127:
            return b"\xfe" + struct.pack("<b", value)
        if -32768 <= value <= 32767:
            return b"\xc0" + struct.pack("<h", value)
        if -8388608 <= value <= 8388607:
            return b"\xf0" + (value & 0xFFFFFF).to_bytes(3, "little")
        if -2147483648 <= value <= 2147483647:
            return b"\xd0" + struct.pack("<i", value)
        return b"\xe0" + struct.pack("<q", value)
    n = len(data)
    if n < 64:
        return bytes((n,)) + data
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF)) + data
    return b"\x80" + _U32_BE.pack(n) + data


def encode_ziplist(elements):
    """A ziplist of ``elements`` (bytes) as ziplistPush writes one."""
    parts = []
    prev_len = 0
    offset = 10
    tail = 10
    for element in elements:
        prevlen = bytes((prev_len,)) if prev_len < 254 else \
            b"\xfe" + _U32.pack(prev_len)
        entry = prevlen + _entry_body(element)
        tail = offset
        offset += len(entry)
        prev_len = len(entry)
        parts.append(entry)
    body = b"".join(parts)
    count = min(len(elements), 65535)
    return _HEADER.pack(len(body) + 11, tail, count) + body + b"\xff"


# -- zipmaps (RDB_TYPE_HASH_ZIPMAP, Redis < 2.6) --------------------------------

def decode_zipmap(blob):
    """The field/value pairs of a zipmap, flat, after zipmapValidateIntegrity's
    checks. Layout: count byte (254 = "count it"), then for each pair a
    length (1 byte, or 254 + u32 LE), the field, a length, a 'free' byte,
    the value and that many unused bytes; 0xFF ends it."""
    n = len(blob)
    if n < 2:
        raise ZiplistError("zipmap too short")
    stated = blob[0]
    pos = 1
    out = []

    def length():
        nonlocal pos
        if pos >= n:
            raise ZiplistError("truncated zipmap")
        first = blob[pos]
        if first < 254:
            pos += 1
            return first
        if first == 254:
            if pos + 5 > n:
                raise ZiplistError("truncated zipmap")
            value = _U32.unpack_from(blob, pos + 1)[0]
            pos += 5
            return value
        return None

    while True:
        size = length()
        if size is None:
            pos += 1            # the 0xFF that ends it
            break
        if pos + size > n:
            raise ZiplistError("truncated zipmap")
        out.append(bytes(blob[pos:pos + size]))
        pos += size
        size = length()
        if size is None:
            raise ZiplistError("zipmap field without value")
        if pos >= n:
            raise ZiplistError("truncated zipmap")
        free = blob[pos]
        pos += 1
        if pos + size + free > n:
            raise ZiplistError("truncated zipmap")
        out.append(bytes(blob[pos:pos + size]))
        pos += size + free
    if pos != n:
        raise ZiplistError("zipmap has trailing bytes")
    if not out:
        raise ZiplistError("empty zipmap")      # Redis refuses it too
    if stated < 254 and stated != len(out) // 2:
        raise ZiplistError("zipmap count mismatch")
    return out


def encode_zipmap(pairs):
    """A zipmap of (field, value) pairs, for tests of old dumps."""
    def length(n):
        return bytes((n,)) if n < 254 else b"\xfe" + _U32.pack(n)
    parts = [bytes((min(len(pairs), 254),))]
    for field, value in pairs:
        parts += [length(len(field)), field, length(len(value)), b"\x00", value]
    parts.append(b"\xff")
    return b"".join(parts)

"""RDB's building blocks: lengths, strings (raw, integer, LZF), doubles.

``Cursor`` reads them from a buffer and raises ``Incomplete`` when the
buffer ends first; the ``encode_*`` functions write them. Sans-IO.
"""

import struct

import lzf

from redisrepl.ctext import string2ll
from redisrepl.rdb.constants import (
    ENC_INT8,
    ENC_INT16,
    ENC_INT32,
    ENC_LZF,
    LEN_32BIT,
    LEN_64BIT,
)
from redisrepl.rdb.errors import Incomplete, RdbError

_U32_BE = struct.Struct(">I")
_U64_BE = struct.Struct(">Q")
_DOUBLE_LE = struct.Struct("<d")
_I16_LE = struct.Struct("<h")
_I32_LE = struct.Struct("<i")
_I64_LE = struct.Struct("<q")
_U64_LE = struct.Struct("<Q")
_U32_LE = struct.Struct("<I")

# Redis refuses a string longer than this in a dump (proto-max-bulk-len's
# hard ceiling): a corrupt length must not make us allocate gigabytes.
MAX_STRING = 1 << 40
# LZF's best case is a 3-byte back reference standing for 264 bytes: a
# stated plain length past this ratio is corrupt, and must not make
# lzf.decompress allocate it.
_LZF_MAX_RATIO = 88


class Cursor:
    """A read position in ``data``; ``base`` is data[0]'s offset in the
    whole input, so errors can name where they are."""

    __slots__ = ("data", "pos", "base", "end")

    def __init__(self, data, pos=0, base=0):
        self.data = data
        self.pos = pos
        self.base = base
        self.end = len(data)

    def offset(self):
        return self.base + self.pos

    def error(self, message):
        return RdbError(message, self.base + self.pos)

    def take(self, n):
        pos = self.pos
        end = pos + n
        if end > self.end:
            raise Incomplete
        self.pos = end
        return self.data[pos:end]

    def byte(self):
        pos = self.pos
        if pos >= self.end:
            raise Incomplete
        self.pos = pos + 1
        return self.data[pos]

    def u64_le(self):
        return _U64_LE.unpack(self.take(8))[0]

    def u32_le(self):
        return _U32_LE.unpack(self.take(4))[0]

    def i32_le(self):
        return _I32_LE.unpack(self.take(4))[0]

    def i64_le(self):
        return _I64_LE.unpack(self.take(8))[0]

    def length_or_encoding(self):
        """(value, is_encoding): a length, or the special-encoding number
        that follows an ENCVAL prefix."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == LEN_32BIT:
            return _U32_BE.unpack(self.take(4))[0], False
        if first == LEN_64BIT:
            return _U64_BE.unpack(self.take(8))[0], False
        self.pos -= 1
        raise self.error(f"Unknown length encoding {first} in rdbLoadLen()")

    def length(self):
        start = self.pos
        value, encoded = self.length_or_encoding()
        if encoded:
            self.pos = start
            raise self.error("Unexpected string encoding where a length was "
                             "expected")
        return value

    def string(self):
        """A string in any of its encodings, as bytes."""
        start = self.pos
        length, encoded = self.length_or_encoding()
        if not encoded:
            if length > MAX_STRING:
                self.pos = start
                raise self.error(f"String length {length} is too large")
            return self.take(length)
        if length == ENC_INT8:
            value = self.byte()
            return b"%d" % (value - 256 if value > 127 else value)
        if length == ENC_INT16:
            return b"%d" % _I16_LE.unpack(self.take(2))[0]
        if length == ENC_INT32:
            return b"%d" % _I32_LE.unpack(self.take(4))[0]
        if length == ENC_LZF:
            return self._lzf(start)
        self.pos = start
        raise self.error(f"Unknown RDB string encoding type {length}")

    def _lzf(self, start):
        compressed_len = self.length()
        plain_len = self.length()
        if plain_len > MAX_STRING or compressed_len > MAX_STRING:
            self.pos = start
            raise self.error("LZF string length is too large")
        compressed = self.take(compressed_len)
        if plain_len == 0 or plain_len > _LZF_MAX_RATIO * compressed_len + 32:
            # lzf_decompress cannot produce an empty string, nor that much
            # from so little: Redis rejects both.
            raise RdbError("Invalid LZF compressed string", self.base + start)
        try:
            plain = lzf.decompress(bytes(compressed), plain_len)
        except ValueError:
            plain = None
        if plain is None or len(plain) != plain_len:
            raise RdbError("Invalid LZF compressed string", self.base + start)
        return plain

    def text_double(self):
        """A score of the old ZSET type: a length byte, then ASCII (253,
        254, 255 stand for nan, inf, -inf)."""
        start = self.pos
        n = self.byte()
        if n == 253:
            return float("nan")
        if n == 254:
            return float("inf")
        if n == 255:
            return float("-inf")
        text = self.take(n)
        try:
            return float(text)
        except ValueError:
            self.pos = start
            raise self.error("Invalid double value") from None

    def binary_double(self):
        return _DOUBLE_LE.unpack(self.take(8))[0]


# -- writing ---------------------------------------------------------------------

_SHORT_LENGTHS = [bytes([n]) for n in range(64)]


def encode_length(n):
    if n < 64:
        return _SHORT_LENGTHS[n]
    if n < 16384:
        return bytes(((n >> 8) | 0x40, n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _U32_BE.pack(n)
    return b"\x81" + _U64_BE.pack(n)


def encode_int_string(value):
    """The integer encoding of ``value`` if it fits 32 bits, else None."""
    if -128 <= value <= 127:
        return bytes((0xC0 | ENC_INT8, value & 0xFF))
    if -32768 <= value <= 32767:
        return bytes((0xC0 | ENC_INT16,)) + _I16_LE.pack(value)
    if -2147483648 <= value <= 2147483647:
        return bytes((0xC0 | ENC_INT32,)) + _I32_LE.pack(value)
    return None


def encode_string(data, compress=True):
    """A string as rdbSaveRawString writes it: integer-encoded when it is a
    canonical integer of up to 11 characters that fits 32 bits,
    LZF-compressed when longer than 20 bytes and compression saves at
    least 4 bytes, else raw."""
    n = len(data)
    if n <= 11 and n:
        value = string2ll(data)
        if value is not None:
            encoded = encode_int_string(value)
            if encoded is not None:
                return encoded
    if compress and n > 20:
        packed = lzf.compress(bytes(data), n - 4)
        if packed:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    if n < 64:
        return _SHORT_LENGTHS[n] + data
    return encode_length(n) + data


def encode_binary_double(value):
    return _DOUBLE_LE.pack(value)


def encode_u64_le(value):
    return _U64_LE.pack(value)


def encode_u32_le(value):
    return _U32_LE.pack(value)


def encode_i64_le(value):
    return _I64_LE.pack(value)

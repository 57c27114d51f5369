"""RDB building blocks: lengths, strings (int, LZF, raw), doubles."""

import math
import struct

import lzf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from redisrepl.rdb.errors import Incomplete, RdbError
from redisrepl.rdb.primitives import (
    Cursor,
    encode_binary_double,
    encode_length,
    encode_string,
)


def read_length(data):
    cur = Cursor(data)
    value = cur.length()
    assert cur.pos == len(data), "a length must consume exactly its bytes"
    return value


def read_string(data):
    cur = Cursor(data)
    value = cur.string()
    assert cur.pos == len(data), "a string must consume exactly its bytes"
    return value


# -- lengths ---------------------------------------------------------------------

@pytest.mark.parametrize("n, size", [
    (0, 1), (63, 1), (64, 2), (16383, 2), (16384, 5), (2**32 - 1, 5), (2**32, 9),
    (2**64 - 1, 9)])
def test_length_widths_at_boundaries(n, size):
    """Each length takes the width Redis picks (6, 14, 32, 64 bits) and reads back."""
    encoded = encode_length(n)
    assert len(encoded) == size
    assert read_length(encoded) == n


def test_length_layouts_match_rdb_h():
    """The four prefixes are rdb.h's: 00xxxxxx, 01xxxxxx xxxxxxxx, 0x80 + BE32, 0x81 + BE64."""
    assert encode_length(5) == b"\x05"
    assert encode_length(300) == b"\x41\x2c"
    assert encode_length(70000) == b"\x80" + struct.pack(">I", 70000)
    assert encode_length(2**40) == b"\x81" + struct.pack(">Q", 2**40)


@given(st.integers(0, 2**64 - 1))
def test_length_round_trip(n):
    """Every 64-bit length survives encode and decode."""
    assert read_length(encode_length(n)) == n


def test_unknown_length_prefix_is_an_error_with_offset():
    """0x82 is no length encoding: RdbError naming the byte's offset."""
    cur = Cursor(b"xx\x82\x00", pos=2, base=100)
    with pytest.raises(RdbError) as info:
        cur.length()
    assert info.value.offset == 102
    assert "length" in str(info.value) and "offset 102" in str(info.value)


def test_string_encoding_where_a_length_is_expected():
    """An ENCVAL prefix (0xC0) is refused where a plain length belongs."""
    with pytest.raises(RdbError):
        Cursor(b"\xc0\x01").length()


@pytest.mark.parametrize("data", [b"", b"\x40", b"\x80\x00\x00", b"\x81\x00"])
def test_length_cut_short_is_incomplete(data):
    """A length cut by the end of the buffer asks for more input."""
    with pytest.raises(Incomplete):
        Cursor(data).length()


# -- strings ---------------------------------------------------------------------

@pytest.mark.parametrize("text, encoded", [
    (b"0", b"\xc0\x00"), (b"127", b"\xc0\x7f"), (b"-128", b"\xc0\x80"),
    (b"128", b"\xc1\x80\x00"), (b"-129", b"\xc1\x7f\xff"),
    (b"32767", b"\xc1\xff\x7f"), (b"-32768", b"\xc1\x00\x80"),
    (b"32768", b"\xc2\x00\x80\x00\x00"), (b"-32769", b"\xc2\xff\x7f\xff\xff"),
    (b"2147483647", b"\xc2\xff\xff\xff\x7f"), (b"-2147483648", b"\xc2\x00\x00\x00\x80"),
])
def test_int_encoded_boundaries(text, encoded):
    """Canonical integers use int8/16/32 exactly up to each width's edge."""
    assert encode_string(text) == encoded
    assert read_string(encoded) == text


@pytest.mark.parametrize("text", [
    b"2147483648", b"-2147483649", b"12345678901", b"-12345678901", b"99999999999999",
    b"007", b"+1", b"-0", b" 1", b"1 ", b"0x10", b"1e3", b"", b"-", b"1.0"])
def test_non_canonical_or_wide_integers_stay_raw(text):
    """Integers beyond 32 bits, past 11 characters or not canonical are raw."""
    encoded = encode_string(text, compress=False)
    assert encoded == bytes((len(text),)) + text
    assert read_string(encoded) == text


def test_lzf_used_for_long_compressible_strings_only_when_compressing():
    """rdbcompression yes: LZF (0xC3) when it saves bytes; no: always raw."""
    data = b"abcabcabc" * 50
    packed = encode_string(data, compress=True)
    assert packed[0] == 0xC3 and len(packed) < len(data)
    assert read_string(packed) == data
    raw = encode_string(data, compress=False)
    assert raw == encode_length(len(data)) + data


def test_no_lzf_at_twenty_bytes_or_when_it_does_not_pay():
    """Strings of 20 bytes or less, and incompressible ones, are raw."""
    assert encode_string(b"a" * 20) == b"\x14" + b"a" * 20
    assert encode_string(b"a" * 21)[0] == 0xC3
    noise = bytes(range(256))
    assert encode_string(noise) == encode_length(256) + noise


def test_lzf_layout():
    """LZF strings are 0xC3, compressed length, plain length, the LZF bytes."""
    data = b"x" * 1000
    packed = lzf.compress(data)
    assert encode_string(data) == (b"\xc3" + encode_length(len(packed)) +
                                   encode_length(1000) + packed)


@given(st.binary(max_size=3000), st.booleans())
def test_string_round_trip(data, compress):
    """Any bytes survive encode and decode, compressed or not."""
    assert read_string(encode_string(data, compress)) == data


@given(st.integers(-(2**63), 2**63 - 1))
def test_integer_strings_round_trip(n):
    """Every int64 decimal survives, whichever encoding it gets."""
    text = b"%d" % n
    encoded = encode_string(text)
    assert read_string(encoded) == text
    assert (encoded[0] >> 6 == 3) == (-(2**31) <= n < 2**31)


@given(st.text(alphabet="0123456789+- ", max_size=12))
def test_digit_soup_round_trips(text):
    """Near-integers (signs, zeros, blanks) come back exactly as written."""
    data = text.encode()
    assert read_string(encode_string(data)) == data


@pytest.mark.parametrize("body, message", [
    (b"\xc4", "Unknown RDB string encoding type 4"),
    (b"\xc3\x02\x05\xff\xff", "Invalid LZF compressed string"),
    (b"\xc3\x02\x00\x00\x00", "Invalid LZF compressed string"),
    (b"\xc3\x01\x81\x00\x00\x01\x00\x00\x00\x00\x00\x00", "Invalid LZF compressed string"),
    (b"\xc3\x01\x81\x01\x00\x00\x00\x00\x00\x00\x00\x00", "too large"),
])
def test_bad_strings(body, message):
    """Unknown encodings, corrupt LZF, absurd plain lengths: RdbError (no allocation)."""
    with pytest.raises(RdbError) as info:
        Cursor(b"." + body, pos=1).string()
    assert message in str(info.value)
    assert info.value.offset == 1


def test_lzf_with_wrong_plain_length():
    """LZF data that decompresses to another length than stated is corrupt."""
    packed = lzf.compress(b"y" * 100)
    body = b"\xc3" + encode_length(len(packed)) + encode_length(99) + packed
    with pytest.raises(RdbError):
        read_string(body)
    body = b"\xc3" + encode_length(len(packed)) + encode_length(101) + packed
    with pytest.raises(RdbError):
        read_string(body)


def test_raw_string_beyond_buffer_is_incomplete():
    """A raw string longer than the data asks for more input (no allocation)."""
    with pytest.raises(Incomplete):
        Cursor(b"\x81" + struct.pack(">Q", 2**39) + b"abc").string()


# -- doubles ---------------------------------------------------------------------

@given(st.floats(allow_nan=False))
def test_binary_double_round_trip(value):
    """Binary doubles (ZSET_2 scores) are 8 bytes LE and read back exactly."""
    encoded = encode_binary_double(value)
    assert len(encoded) == 8 and Cursor(encoded).binary_double() == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_text_double_round_trip(value):
    """Old-style text scores (%.17g after a length byte) read back exactly."""
    text = b"%.17g" % value
    assert Cursor(bytes((len(text),)) + text).text_double() == value


def test_text_double_specials():
    """Length bytes 253, 254, 255 stand for nan, inf and -inf."""
    assert math.isnan(Cursor(b"\xfd").text_double())
    assert Cursor(b"\xfe").text_double() == math.inf
    assert Cursor(b"\xff").text_double() == -math.inf


def test_bad_text_double():
    """A score that is not a number is an RdbError at its offset."""
    with pytest.raises(RdbError) as info:
        Cursor(b"\x03abc", base=40).text_double()
    assert info.value.offset == 40

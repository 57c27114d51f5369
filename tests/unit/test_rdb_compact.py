"""The compact blob formats: listpack, ziplist, zipmap, intset."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redisrepl.rdb import intset, listpack
from redisrepl.rdb.ziplist import decode_ziplist, decode_zipmap, encode_ziplist, encode_zipmap

INT64 = st.integers(-(2**63), 2**63 - 1)
# Elements of every kind: integers (canonical text), near-integers that must
# stay strings, and binary strings around the length boundaries.
ELEMENTS = st.one_of(
    INT64.map(lambda n: b"%d" % n),
    st.sampled_from([b"007", b"+1", b"-0", b" 1", b"", b"9223372036854775808"]),
    st.binary(max_size=70),
    st.integers(60, 4200).map(lambda n: b"s" * n),
)


# -- listpack --------------------------------------------------------------------

@pytest.mark.parametrize("element, body", [
    (b"0", b"\x00"), (b"127", b"\x7f"),
    (b"128", b"\xc0\x80"), (b"-1", b"\xdf\xff"), (b"4095", b"\xcf\xff"),
    (b"-4096", b"\xd0\x00"),
    (b"4096", b"\xf1\x00\x10"), (b"-4097", b"\xf1\xff\xef"),
    (b"32767", b"\xf1\xff\x7f"), (b"32768", b"\xf2\x00\x80\x00"),
    (b"-8388608", b"\xf2\x00\x00\x80"), (b"8388608", b"\xf3\x00\x00\x80\x00"),
    (b"2147483647", b"\xf3\xff\xff\xff\x7f"),
    (b"2147483648", b"\xf4" + struct.pack("<q", 2**31)),
    (b"-9223372036854775808", b"\xf4" + struct.pack("<q", -(2**63))),
    (b"", b"\x80"), (b"a" * 63, b"\xbf" + b"a" * 63),
    (b"a" * 64, b"\xe0\x40" + b"a" * 64), (b"a" * 4095, b"\xef\xff" + b"a" * 4095),
    (b"a" * 4096, b"\xf0\x00\x10\x00\x00" + b"a" * 4096),
    (b"007", b"\x83007"), (b"9223372036854775808", b"\x939223372036854775808"),
])
def test_listpack_element_encodings(element, body):
    """Each element gets listpack.c's encoding: 7/13/16/24/32/64-bit ints,
    6/12/32-bit string lengths, at each boundary."""
    encoded = listpack.encode_element(element)
    assert encoded.startswith(body)
    assert listpack.decode(listpack.encode([element])) == [element]


@pytest.mark.parametrize("size, entry_len, backlen", [
    (1, 2, 1), (125, 127, 1), (126, 128, 2), (16377, 16382, 2), (16378, 16383, 3),
    (70000, 70005, 3)])
def test_listpack_backlen_sizes(size, entry_len, backlen):
    """Back lengths take 1 byte for entries up to 127 bytes, 2 below 16383,
    then 3 (lpEncodeBacklen), and read back."""
    element = b"z" * size
    encoded = listpack.encode_element(element)
    assert len(encoded) == entry_len + backlen
    assert listpack.decode(listpack.encode([b"1", element, b"2"])) == [b"1", element, b"2"]


@given(st.lists(ELEMENTS, max_size=30))
def test_listpack_round_trip(elements):
    """Any elements survive a listpack; the header states size and count."""
    blob = listpack.encode(elements)
    total, count = struct.unpack_from("<IH", blob)
    assert total == len(blob) and count == len(elements) and blob[-1] == 0xFF
    assert listpack.decode(blob) == elements


def test_listpack_count_saturates():
    """65535 or more elements store count 65535 ("count them") and still decode."""
    elements = [b"%d" % (i % 100) for i in range(70000)]
    blob = listpack.encode(elements)
    assert struct.unpack_from("<H", blob, 4)[0] == 65535
    assert listpack.decode(blob) == elements


def _corrupt(blob, at, value):
    blob = bytearray(blob)
    blob[at] = value
    return bytes(blob)


GOOD_LP = listpack.encode([b"a", b"12", b"x" * 200])


@pytest.mark.parametrize("blob", [
    GOOD_LP[:-1],                                   # size and terminator
    GOOD_LP[:-1] + b"\x00",                         # no terminator
    _corrupt(GOOD_LP, 4, 7),                        # wrong count
    _corrupt(GOOD_LP, 0, 200),                      # wrong total
    _corrupt(GOOD_LP, 8, 5),                        # backlen of "a" wrong
    _corrupt(GOOD_LP, 6, 0xF5),                     # unknown encoding
    _corrupt(GOOD_LP, 6, 0xBF),                     # string runs over the end
    b"\x06\x00\x00\x00\x00\x00",                    # too short
    struct.pack("<IH", 9, 1) + b"\xf4\xff",         # int64 cut short
])
def test_listpack_integrity_failures(blob):
    """Damaged listpacks raise ValueError (reported as an integrity failure)."""
    with pytest.raises(ValueError):
        listpack.decode(blob)


def test_empty_listpack():
    """An empty listpack is 7 bytes and decodes to nothing."""
    assert listpack.encode([]) == b"\x07\x00\x00\x00\x00\x00\xff"
    assert listpack.decode(listpack.encode([])) == []


# -- ziplist ---------------------------------------------------------------------

@pytest.mark.parametrize("element, encoding", [
    (b"0", b"\xf1"), (b"12", b"\xfd"), (b"13", b"\xfe\x0d"), (b"-1", b"\xfe\xff"),
    (b"-128", b"\xfe\x80"), (b"128", b"\xc0\x80\x00"), (b"-32768", b"\xc0\x00\x80"),
    (b"32768", b"\xf0\x00\x80\x00"), (b"8388608", b"\xd0\x00\x00\x80\x00"),
    (b"2147483648", b"\xe0" + struct.pack("<q", 2**31)),
    (b"abc", b"\x03abc"), (b"a" * 64, b"\x40\x40" + b"a" * 64),
    (b"a" * 16384, b"\x80\x00\x00\x40\x00" + b"a" * 16384),
])
def test_ziplist_entry_encodings(element, encoding):
    """Immediate 0..12, int8/16/24/32/64 and 6/14/32-bit strings, as ziplist.c."""
    blob = encode_ziplist([element])
    assert blob[10:-1] == b"\x00" + encoding
    assert decode_ziplist(blob) == [element]


@given(st.lists(ELEMENTS, max_size=30))
def test_ziplist_round_trip(elements):
    """Any elements survive a ziplist (prevlen of 1 or 5 bytes, tail offset)."""
    assert decode_ziplist(encode_ziplist(elements)) == elements


def test_ziplist_big_prevlen_and_tail():
    """An entry after one of 254+ bytes has a 5-byte prevlen; the tail points at the last."""
    blob = encode_ziplist([b"x" * 300, b"y"])
    first_len = 1 + 2 + 300
    assert blob[10 + first_len:10 + first_len + 5] == b"\xfe" + struct.pack("<I", first_len)
    assert struct.unpack_from("<I", blob, 4)[0] == 10 + first_len
    assert decode_ziplist(blob) == [b"x" * 300, b"y"]


GOOD_ZL = encode_ziplist([b"a", b"7", b"hello"])


@pytest.mark.parametrize("blob", [
    _corrupt(GOOD_ZL, 8, 9),                # count
    _corrupt(GOOD_ZL, 4, 11),               # tail offset
    _corrupt(GOOD_ZL, 13, 9),               # prevlen of the second entry
    _corrupt(GOOD_ZL, 11, 0xC1),            # unknown encoding
    _corrupt(GOOD_ZL, 11, 0x3F),            # string past the end
    GOOD_ZL[:-1] + b"\x00",                 # terminator
    GOOD_ZL[:9],                            # too short
])
def test_ziplist_integrity_failures(blob):
    """Damaged ziplists raise ValueError."""
    with pytest.raises(ValueError):
        decode_ziplist(blob)


def test_ziplist_unknown_count_is_counted():
    """Count 65535 means "walk it": accepted whatever the number of entries."""
    blob = bytearray(GOOD_ZL)
    blob[8:10] = b"\xff\xff"
    assert decode_ziplist(bytes(blob)) == [b"a", b"7", b"hello"]


# -- zipmap ----------------------------------------------------------------------

PAIRS = st.lists(st.tuples(st.binary(max_size=300), st.binary(max_size=300)),
                 min_size=1, max_size=10)


@given(PAIRS)
def test_zipmap_round_trip(pairs):
    """Field/value pairs survive a zipmap (1- and 5-byte lengths)."""
    flat = [x for pair in pairs for x in pair]
    assert decode_zipmap(encode_zipmap(pairs)) == flat


def test_zipmap_layout_and_free_bytes():
    """A zipmap is count, (len field len free value [free bytes])*, 0xFF;
    the unused bytes after a value are skipped."""
    blob = b"\x02\x01a\x02\x01xy?\x03bbb\xfe" + struct.pack("<I", 2) + b"\x00zz\xff"
    assert decode_zipmap(blob) == [b"a", b"xy", b"bbb", b"zz"]
    assert encode_zipmap([(b"a", b"x")]) == b"\x01\x01a\x01\x00x\xff"


@pytest.mark.parametrize("blob", [
    b"\x00\xff",                            # empty: Redis refuses it
    b"\x02\x01a\x01\x00x\xff",              # count says 2, holds 1
    b"\x01\x01a\x01\x00x",                  # no terminator
    b"\x01\x01a\x05\x00x\xff",              # value past the end
    b"\x01\x01a\xff",                       # field without a value
    b"\x01\x01a\x01\x00x\xff\x00",          # bytes after the end
])
def test_zipmap_integrity_failures(blob):
    """Damaged zipmaps raise ValueError."""
    with pytest.raises(ValueError):
        decode_zipmap(blob)


def test_zipmap_unknown_count():
    """Count 254 means "count them"."""
    assert decode_zipmap(b"\xfe\x01a\x01\x00x\xff") == [b"a", b"x"]


# -- intset ----------------------------------------------------------------------

@pytest.mark.parametrize("values, width", [
    ([-32768, 0, 32767], 2), ([-32769, 1], 4), ([1, 2147483647], 4),
    ([-2147483649], 8), ([2**63 - 1], 8), ([-(2**63)], 8)])
def test_intset_widths(values, width):
    """The narrowest of 16/32/64 bits that holds every member is used."""
    blob = intset.encode(values)
    assert struct.unpack_from("<II", blob) == (width, len(values))
    assert len(blob) == 8 + width * len(values)
    assert list(intset.decode(blob)) == values


@given(st.sets(INT64, min_size=1, max_size=50))
def test_intset_round_trip(values):
    """Any set of int64 survives an intset, sorted."""
    ordered = sorted(values)
    assert list(intset.decode(intset.encode(ordered))) == ordered


@pytest.mark.parametrize("blob", [
    struct.pack("<II", 2, 0),                       # empty
    struct.pack("<IIhh", 2, 2, 5, 3),               # not sorted
    struct.pack("<IIhh", 2, 2, 5, 5),               # duplicate
    struct.pack("<IIh", 3, 1, 5) + b"\x00",         # unknown width
    struct.pack("<IIh", 2, 2, 5),                   # size mismatch
    b"\x02\x00",                                    # too short
])
def test_intset_integrity_failures(blob):
    """Damaged intsets raise ValueError."""
    with pytest.raises(ValueError):
        intset.decode(blob)

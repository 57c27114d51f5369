"""Bit commands: replies, errors, growth and what is (not) propagated.

Expected values marked "(redis 7.0.15)" were checked against a real
redis-server 7.0.15, propagation against its AOF.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl import errors
from redisrepl.resp.values import ReplyError
from tests.unit.harness import EPOCH, Harness
from tests.unit.test_strings import ListStandIn

NOW_MS = int(EPOCH * 1000)
BITFIELD_TYPE = ReplyError(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is "
    "not supported but i64 is.")


@pytest.fixture
def lst(srv):
    """A key holding a non-string value."""
    srv.db.set(b"L", ListStandIn())
    return b"L"


# -- SETBIT / GETBIT -----------------------------------------------------------

def test_setbit_returns_old_bit_and_grows_with_zeros(srv):
    """SETBIT replies the previous bit and zero-pads the string."""
    assert srv("SETBIT", "k", "9", "1") == 0
    assert srv("GET", "k") == b"\x00\x40"
    assert srv("SETBIT", "k", "9", "0") == 1
    assert srv("SETBIT", "k", "0", "1") == 0
    assert srv("GET", "k") == b"\x80\x00"


def test_setbit_keeps_ttl(srv):
    """SETBIT changes the value in place and keeps the TTL."""
    srv("SET", "k", "a", "EX", "100")
    srv("SETBIT", "k", "7", "0")
    assert srv("GET", "k") == b"\x60"
    assert srv.db.get_expire(b"k") == NOW_MS + 100_000


def test_setbit_that_changes_nothing_is_not_propagated(srv):
    """Creating a key propagates even for a 0 bit; rewriting a bit with its
    own value does not (redis 7.0.15)."""
    srv("SETBIT", "k", "0", "0")
    srv("SETBIT", "k", "0", "0")
    srv("SETBIT", "k", "0", "1")
    srv("SETBIT", "k", "0", "1")
    srv("SETBIT", "k", "20", "0")   # grows the string: a change
    assert srv.propagated == [
        [b"SETBIT", b"k", b"0", b"0"], [b"SETBIT", b"k", b"0", b"1"],
        [b"SETBIT", b"k", b"20", b"0"]]


@pytest.mark.parametrize("offset, bit, expected", [
    ("-1", "1", errors.BIT_OFFSET),
    ("x", "1", errors.BIT_OFFSET),
    ("4294967296", "1", errors.BIT_OFFSET),   # 512MB * 8
    ("0", "2", ReplyError("ERR bit is not an integer or out of range")),
    ("0", "-1", ReplyError("ERR bit is not an integer or out of range")),
    ("0", "x", ReplyError("ERR bit is not an integer or out of range")),
])
def test_setbit_errors(srv, offset, bit, expected):
    """Bad offsets and bit values get Redis's texts and create nothing."""
    assert srv("SETBIT", "k", offset, bit) == expected
    assert srv.db.get(b"k") is None


def test_setbit_offset_limit_follows_proto_max_bulk_len():
    """The largest bit offset is proto-max-bulk-len * 8 - 1."""
    srv = Harness("proto-max-bulk-len 1mb\n")
    assert srv("SETBIT", "k", str(8 * 1024 * 1024), "1") == errors.BIT_OFFSET
    assert srv("SETBIT", "k", str(8 * 1024 * 1024 - 1), "1") == 0
    assert len(srv.db.get(b"k")) == 1024 * 1024


def test_setbit_wrongtype(srv, lst):
    """SETBIT on a non-string is WRONGTYPE (after argument checks)."""
    assert srv("SETBIT", lst, "0", "1") == errors.WRONGTYPE
    assert srv("SETBIT", lst, "0", "2") == \
        ReplyError("ERR bit is not an integer or out of range")


def test_getbit(srv, lst):
    """GETBIT reads a bit, 0 past the end or for a missing key."""
    srv("SET", "k", "\x40")
    assert srv("GETBIT", "k", "1") == 1
    assert srv("GETBIT", "k", "0") == 0
    assert srv("GETBIT", "k", "1000") == 0
    assert srv("GETBIT", "nokey", "3") == 0
    assert srv("GETBIT", "k", "-1") == errors.BIT_OFFSET
    assert srv("GETBIT", lst, "0") == errors.WRONGTYPE


# -- BITCOUNT ------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    ([], 26), (["0", "0"], 4), (["1", "1"], 6), (["-2", "-1"], 7),
    (["5", "30", "BIT"], 17), (["0", "-1", "bit"], 26), (["1", "1", "byte"], 6),
    (["-1", "-5"], 0), (["-1", "-5", "nonsense"], 0), (["3", "1"], 0),
    (["-100", "-200"], 0), (["-100", "100"], 26),
])
def test_bitcount(srv, args, expected):
    """BITCOUNT over the whole string, byte ranges and bit ranges
    (redis 7.0.15 for every row)."""
    srv("SET", "k", "foobar")
    assert srv("BITCOUNT", "k", *args) == expected


def test_bitcount_missing_key_ignores_the_arguments(srv):
    """Redis 7.0 looks the key up first: junk arguments on a missing key
    still reply 0 (redis 7.0.15)."""
    assert srv("BITCOUNT", "nokey", "1", "a") == 0
    assert srv("BITCOUNT", "nokey", "1") == 0


def test_bitcount_errors(srv, lst):
    """Syntax and integer errors on an existing key; WRONGTYPE first."""
    srv("SET", "k", "foobar")
    assert srv("BITCOUNT", "k", "1") == errors.SYNTAX
    assert srv("BITCOUNT", "k", "1", "2", "foo") == errors.SYNTAX
    assert srv("BITCOUNT", "k", "a", "2") == errors.NOT_INTEGER
    assert srv("BITCOUNT", lst, "1") == errors.WRONGTYPE


# -- BITPOS --------------------------------------------------------------------

@pytest.mark.parametrize("value, args, expected", [
    (b"\xff\xf0\x00", ["0"], 12),
    (b"\x00\xff\xf0", ["1", "0"], 8),
    (b"\x00\xff\xf0", ["1", "2"], 16),
    (b"\x00\xff\xf0", ["1", "2", "-1", "BYTE"], 16),
    (b"\x00\xff\xf0", ["1", "7", "15", "BIT"], 8),
    (b"\x00\xff\xf0", ["0", "8", "11", "bit"], -1),
    (b"\x00\xff\xf0", ["0", "9", "12", "BIT"], -1),
    (b"\x00\xff\xf0", ["0", "16", "23", "BIT"], 20),
    (b"\x00\x00\x00", ["1"], -1),
    (b"\xff\xff\xff", ["0"], 24),          # no end: zero padding counts
    (b"\xff\xff\xff", ["0", "1"], 24),
    (b"\xff\xff\xff", ["0", "0", "-1"], -1),   # explicit end: it does not
    (b"\xff\xff\xff", ["1", "5", "9"], -1),
    (b"", ["0"], -1),
])
def test_bitpos(srv, value, args, expected):
    """BITPOS finds the first set/clear bit in byte or bit ranges
    (redis 7.0.15 for every row)."""
    srv("SET", "k", value)
    assert srv("BITPOS", "k", *args) == expected


def test_bitpos_missing_key(srv):
    """A missing key is all zeros: bit 1 is -1, bit 0 is at 0."""
    assert srv("BITPOS", "nokey", "1", "junk") == -1
    assert srv("BITPOS", "nokey", "0") == 0


def test_bitpos_errors(srv, lst):
    """The bit argument is checked first, then the key, then the range."""
    srv("SET", "k", "abc")
    bit_error = ReplyError("ERR The bit argument must be 1 or 0.")
    assert srv("BITPOS", "nokey", "2") == bit_error
    assert srv("BITPOS", lst, "1") == errors.WRONGTYPE
    assert srv("BITPOS", "k", "1", "a") == errors.NOT_INTEGER
    assert srv("BITPOS", "k", "1", "0", "1", "foo") == errors.SYNTAX
    assert srv("BITPOS", "k", "0", "1", "2", "3") == errors.SYNTAX


# -- BITOP ---------------------------------------------------------------------

@pytest.mark.parametrize("op, expected", [
    ("AND", b"\x01\x00\x00"), ("or", b"\x0f\xf0\x0f"), ("XOR", b"\x0e\xf0\x0f"),
])
def test_bitop(srv, op, expected):
    """AND/OR/XOR zero-pad shorter strings; the reply is the length."""
    srv("SET", "a", b"\x0f\xf0\x0f")
    srv("SET", "b", b"\x01")
    assert srv("BITOP", op, "dest", "a", "b") == 3
    assert srv("GET", "dest") == expected


def test_bitop_not_and_target_ttl(srv):
    """NOT inverts its one source; the target's TTL is dropped."""
    srv("SET", "a", b"\x0f\x00")
    srv("SET", "dest", "x", "EX", "100")
    assert srv("BITOP", "NOT", "dest", "a") == 2
    assert srv("GET", "dest") == b"\xf0\xff"
    assert srv.db.get_expire(b"dest") is None
    assert srv.propagated[-1] == [b"BITOP", b"NOT", b"dest", b"a"]


def test_bitop_empty_result_deletes_target(srv):
    """With only empty/missing sources the target is deleted, and the command
    is propagated only if there was a target to delete (redis 7.0.15)."""
    assert srv("BITOP", "AND", "dest", "nokey") == 0
    assert srv.propagated == []
    srv("SET", "dest", "x")
    assert srv("BITOP", "AND", "dest", "nokey") == 0
    assert srv.db.get(b"dest") is None
    assert srv.propagated[-1] == [b"BITOP", b"AND", b"dest", b"nokey"]


def test_bitop_errors(srv, lst):
    """Unknown operation, NOT with several keys, non-string source."""
    assert srv("BITOP", "NAND", "d", "a") == errors.SYNTAX
    assert srv("BITOP", "NOT", "d", "a", "b") == ReplyError(
        "ERR BITOP NOT must be called with a single source key.")
    assert srv("BITOP", "OR", "d", "a", lst) == errors.WRONGTYPE


# -- BITFIELD ------------------------------------------------------------------

def test_bitfield_basic(srv):
    """SET replies the old value, INCRBY the new one, GET reads (docs)."""
    assert srv("BITFIELD", "k", "INCRBY", "i5", "100", "1",
               "GET", "u4", "0") == [1, 0]
    assert srv("BITFIELD", "k", "SET", "u8", "0", "255",
               "GET", "i8", "0") == [0, -1]
    assert srv("BITFIELD", "k", "set", "i8", "#1", "-2",
               "get", "u8", "8") == [0, 254]


@pytest.mark.parametrize("ops, expected", [
    # (redis 7.0.15) for every row.
    (["OVERFLOW", "SAT", "SET", "u8", "0", "-1", "GET", "u8", "0"], [0, 255]),
    (["OVERFLOW", "WRAP", "SET", "i8", "0", "-9223372036854775808",
      "GET", "i8", "0"], [0, 0]),
    (["OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775808",
      "GET", "i8", "0"], [0, 127]),
    (["OVERFLOW", "SAT", "SET", "i8", "0", "9223372036854775807",
      "GET", "i8", "0"], [0, 127]),
    (["OVERFLOW", "SAT", "INCRBY", "i64", "0", "-9223372036854775808",
      "INCRBY", "i64", "0", "-1"],
     [-9223372036854775808, -9223372036854775808]),
    (["SET", "i64", "0", "-9223372036854775808", "INCRBY", "i64", "0", "-1"],
     [0, 9223372036854775807]),
    (["OVERFLOW", "WRAP", "SET", "u63", "0", "-1", "GET", "u63", "0"],
     [0, 9223372036854775807]),
    (["OVERFLOW", "SAT", "SET", "u63", "0", "-1", "INCRBY", "u63", "0", "-5",
      "OVERFLOW", "FAIL", "INCRBY", "u63", "0", "10"],
     [0, 9223372036854775802, None]),
    (["INCRBY", "u2", "0", "5", "OVERFLOW", "SAT", "INCRBY", "u2", "0", "5",
      "INCRBY", "u2", "0", "-9"], [1, 3, 0]),
    (["INCRBY", "i4", "0", "9"], [-7]),
])
def test_bitfield_overflow(srv, ops, expected):
    """WRAP/SAT/FAIL behave as Redis's C code, int64 quirks included."""
    assert srv("BITFIELD", "k", *ops) == expected


def test_bitfield_fail_on_missing_key_creates_it_unpropagated(srv):
    """A FAIL overflow writes nothing and is not propagated, yet the key is
    created zero-filled (a Redis 7.0.15 quirk, reproduced)."""
    assert srv("BITFIELD", "k", "OVERFLOW", "FAIL",
               "INCRBY", "u8", "0", "1000") == [None]
    assert srv.db.get(b"k") == b"\x00"
    assert srv.propagated == []


def test_bitfield_propagates_only_real_changes(srv):
    """Rewriting the same value is not a change; growing the string is."""
    srv("BITFIELD", "k", "SET", "u8", "0", "7")
    srv("BITFIELD", "k", "SET", "u8", "0", "7")
    srv("BITFIELD", "k", "SET", "u8", "100", "0")
    srv("BITFIELD", "k", "GET", "u8", "0")
    assert srv.propagated == [
        [b"BITFIELD", b"k", b"SET", b"u8", b"0", b"7"],
        [b"BITFIELD", b"k", b"SET", b"u8", b"100", b"0"]]


def test_bitfield_get_only_does_not_create(srv):
    """GET on a missing key reads zeros and creates nothing."""
    assert srv("BITFIELD", "k", "GET", "u8", "100", "GET", "i64", "#3") == [0, 0]
    assert srv("BITFIELD", "k") == []
    assert srv.db.get(b"k") is None


def test_bitfield_hash_offsets(srv):
    """#n addresses the n-th field of the type's width."""
    srv("BITFIELD", "k", "SET", "u4", "#1", "15")
    assert srv("GET", "k") == b"\x0f"
    assert srv("BITFIELD", "k", "GET", "u4", "4") == [15]


@pytest.mark.parametrize("ops, expected", [
    (["GET", "u64", "0"], BITFIELD_TYPE),
    (["GET", "i65", "0"], BITFIELD_TYPE),
    (["GET", "i0", "0"], BITFIELD_TYPE),
    (["GET", "U8", "0"], BITFIELD_TYPE),
    (["GET", "u8", "-1"], errors.BIT_OFFSET),
    (["GET", "u8", "#-1"], errors.BIT_OFFSET),
    (["GET", "u8", "#"], errors.BIT_OFFSET),
    (["GET", "u8", "4294967296"], errors.BIT_OFFSET),
    (["SET", "u8", "0", "x"], errors.NOT_INTEGER),
    (["SET", "u8", "0"], errors.SYNTAX),
    (["FOO", "u8", "0"], errors.SYNTAX),
    (["OVERFLOW", "NOPE"], ReplyError("ERR Invalid OVERFLOW type specified")),
    (["OVERFLOW"], errors.SYNTAX),
])
def test_bitfield_errors(srv, ops, expected):
    """Parse errors use Redis's texts and change nothing."""
    assert srv("BITFIELD", "k", *ops) == expected
    assert srv.db.get(b"k") is None


def test_bitfield_wrongtype(srv, lst):
    """BITFIELD reads and writes on a non-string are WRONGTYPE."""
    assert srv("BITFIELD", lst, "GET", "u8", "0") == errors.WRONGTYPE
    assert srv("BITFIELD", lst, "SET", "u8", "0", "1") == errors.WRONGTYPE


def test_bitfield_ro(srv):
    """BITFIELD_RO reads, and refuses any write after parsing everything."""
    srv("SET", "k", "\x05")
    assert srv("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i4", "4") == [5, 5]
    assert srv("BITFIELD_RO", "k", "GET", "u8", "0", "SET", "u8", "0", "1") \
        == ReplyError("ERR BITFIELD_RO only supports the GET subcommand")
    assert srv("BITFIELD_RO", "k", "SET", "u99", "0", "1") == BITFIELD_TYPE
    assert srv("GET", "k") == b"\x05"


# -- properties against a bit-by-bit model --------------------------------------

def bit_list(value):
    return [(byte >> (7 - i)) & 1 for byte in value for i in range(8)]


def model_range(start, end, size):
    """Redis's clamping of a [start, end] range over ``size`` units."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    start, end = max(start, 0), max(end, 0)
    return start, min(end, size - 1)


ranges = st.tuples(st.integers(-30, 30), st.integers(-30, 30), st.booleans())


@given(st.binary(max_size=12), ranges)
@settings(deadline=None)
def test_bitcount_counts_the_bits_in_range(value, bounds):
    """BITCOUNT start end [BIT|BYTE] counts the set bits of that range."""
    start, end, in_bits = bounds
    srv = Harness()
    srv("SET", "k", value)
    bits = bit_list(value)
    if start < 0 and end < 0 and start > end:
        expected = 0
    elif in_bits:
        first, last = model_range(start, end, len(bits))
        expected = sum(bits[first:last + 1])
    else:
        first, last = model_range(start, end, len(value))
        expected = sum(bits[first * 8:last * 8 + 8])
    unit = "BIT" if in_bits else "BYTE"
    assert srv("BITCOUNT", "k", str(start), str(end), unit) == expected


@given(st.binary(max_size=12), st.integers(0, 1), ranges)
@settings(deadline=None)
def test_bitpos_finds_the_first_matching_bit(value, bit, bounds):
    """BITPOS bit start end [BIT|BYTE] is the first such bit in the range,
    -1 if none (an explicit end never counts the zero padding)."""
    start, end, in_bits = bounds
    srv = Harness()
    srv("SET", "k", value)
    bits = bit_list(value)
    if in_bits:
        first, last = model_range(start, end, len(bits))
    else:
        first, last = model_range(start, end, len(value))
        first, last = first * 8, last * 8 + 7
    found = [i for i in range(first, last + 1) if bits[i] == bit]
    unit = "BIT" if in_bits else "BYTE"
    assert srv("BITPOS", "k", str(bit), str(start), str(end), unit) == \
        (found[0] if found else -1)


field_types = st.one_of(
    st.tuples(st.just("i"), st.integers(1, 64)),
    st.tuples(st.just("u"), st.integers(1, 63)))


@given(st.binary(max_size=10), field_types, st.integers(0, 90), st.data())
@settings(deadline=None)
def test_bitfield_set_writes_exactly_its_field(initial, field, offset, data):
    """BITFIELD SET of an in-range value changes only that field's bits,
    replies the old value, and GET reads the new one back."""
    kind, width = field
    signed = kind == "i"
    low, high = ((-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed
                 else (0, (1 << width) - 1))
    number = data.draw(st.integers(low, high))
    srv = Harness()
    srv("SET", "k", initial)
    bits = bit_list(initial)
    bits += [0] * max(0, ((offset + width + 7) // 8) * 8 - len(bits))
    old = int("".join(map(str, bits[offset:offset + width])), 2)
    if signed and old >> (width - 1):
        old -= 1 << width
    new_bits = [int(c) for c in format(number & ((1 << width) - 1),
                                       f"0{width}b")]
    bits[offset:offset + width] = new_bits
    field_name = f"{kind}{width}"
    assert srv("BITFIELD", "k", "SET", field_name, str(offset), str(number),
               "GET", field_name, str(offset)) == [old, number]
    assert bit_list(srv("GET", "k")) == bits

"""Property tests for the string family's arithmetic and algorithms:
INCRBYFLOAT's long double emulation and LCS's bit-parallel table."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl import longdouble
from redisrepl.resp.values import Map
from tests.unit.harness import Harness

try:
    import numpy
    X87_LONG_DOUBLE = numpy.finfo(numpy.longdouble).nmant == 63
except ImportError:   # numpy is only an optional oracle
    X87_LONG_DOUBLE = False


def trimmed(text):
    """ld2string's trimming of a "%.17f" rendering."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


finite_doubles = st.floats(allow_nan=False, allow_infinity=False)


@given(finite_doubles)
def test_doubles_format_as_exact_17_digit_fixed_point(value):
    """A double is exactly a long double: parsing its hex form and printing
    it gives the correctly rounded "%.17f", as glibc prints it."""
    parsed = longdouble.parse(value.hex().encode())
    assert longdouble.format_human(parsed).decode() == trimmed(f"{value:.17f}")


@given(st.integers(-(1 << 62), 1 << 62), st.integers(-(1 << 62), 1 << 62))
def test_integer_sums_are_exact(a, b):
    """Integers below 2**63 add exactly, as in a 64-bit significand."""
    total = longdouble.add(longdouble.parse(b"%d" % a),
                           longdouble.parse(b"%d" % b))
    assert longdouble.format_human(total) == b"%d" % (a + b)


decimal_texts = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}.{frac}e{exp}",
    st.sampled_from(["", "-", "+"]),
    st.integers(0, 10 ** 20), st.integers(0, 10 ** 20),
    st.integers(-40, 40))


@pytest.mark.skipif(not X87_LONG_DOUBLE,
                    reason="needs numpy with an x87 80-bit long double")
@given(decimal_texts, decimal_texts)
@settings(max_examples=300)
def test_matches_the_platform_long_double(a, b):
    """parse + add + format agree with the platform's 80-bit long double
    (numpy's, when the machine has x87 extended precision)."""
    expected = numpy.format_float_positional(
        numpy.longdouble(a) + numpy.longdouble(b), precision=17, unique=False,
        fractional=True, trim="k")
    total = longdouble.add(longdouble.parse(a.encode()),
                           longdouble.parse(b.encode()))
    assert longdouble.format_human(total).decode() == trimmed(expected)


# -- LCS against Redis's dynamic-programming algorithm --------------------------

def redis_lcs(a, b, min_match_len, with_match_len):
    """lcsCommand's full-table DP and walk, transcribed plainly: the oracle
    for the bit-parallel table."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    i, j = len(a), len(b)
    result = []
    ranges = []
    current = None
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result.append(a[i - 1])
            if current is None:
                current = [i - 1, i - 1, j - 1, j - 1]
            elif current[0] == i and current[2] == j:
                current[0] -= 1
                current[2] -= 1
            else:
                emit = True
            if current[0] == 0 or current[2] == 0:
                emit = True
            i, j = i - 1, j - 1
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            emit = current is not None
        if emit:
            length = current[1] - current[0] + 1
            if min_match_len == 0 or length >= min_match_len:
                match = [current[:2], current[2:]]
                if with_match_len:
                    match.append(length)
                ranges.append(match)
            current = None
    return bytes(reversed(result)), ranges, table[len(a)][len(b)]


lcs_strings = st.one_of(
    st.binary(max_size=40),
    st.text("ab", max_size=60).map(str.encode),
    st.text("abcd ", max_size=70).map(str.encode))


@given(lcs_strings, lcs_strings, st.integers(0, 4), st.booleans())
@settings(max_examples=300, deadline=None)
def test_lcs_matches_redis_dynamic_programming(a, b, min_len, with_len):
    """LCS, LCS LEN and LCS IDX reply exactly what Redis's DP computes."""
    srv = Harness()
    srv("SET", "a", a)
    srv("SET", "b", b)
    common, ranges, length = redis_lcs(a, b, min_len, with_len)
    assert srv("LCS", "a", "b") == common
    assert srv("LCS", "a", "b", "LEN") == length
    options = ["MINMATCHLEN", str(min_len)] + (["WITHMATCHLEN"] if with_len
                                               else [])
    assert srv("LCS", "a", "b", "IDX", *options) == Map(
        [(b"matches", ranges), (b"len", length)])


@given(st.binary(max_size=30), st.integers(0, 40), st.binary(max_size=10))
@settings(deadline=None)
def test_setrange_is_a_zero_padded_overwrite(initial, offset, patch):
    """SETRANGE equals padding with zeros up to the offset and overwriting."""
    srv = Harness()
    srv("SET", "k", initial)
    expected = bytearray(initial)
    if patch:
        expected.extend(bytes(max(0, offset + len(patch) - len(expected))))
        expected[offset:offset + len(patch)] = patch
    assert srv("SETRANGE", "k", str(offset), patch) == len(expected)
    assert srv("GET", "k") == bytes(expected)

"""Property tests of the zset value and its argument readers: glibc's own
strtod is the reference for scores and range bounds, a plain sorted list
the reference for the zset order, ranks and ranges."""

import ctypes
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl import errors
from redisrepl.commands.zsets_args import (
    SCORE_RANGE,
    parse_double,
    parse_score_range,
)
from redisrepl.resp.encoder import format_double
from redisrepl.zset import LEX_MAX, LEX_MIN, LexBound, ZSet

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.strtod.restype = ctypes.c_double
_LIBC.strtod.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
_ERANGE = 34


def c_strtod(text):
    """(value, bytes consumed, errno) from the C library's strtod."""
    buffer = ctypes.create_string_buffer(text)
    end = ctypes.c_char_p()
    ctypes.set_errno(0)
    value = _LIBC.strtod(buffer, ctypes.byref(end))
    consumed = ctypes.cast(end, ctypes.c_void_p).value - ctypes.addressof(buffer)
    return value, consumed, ctypes.get_errno()


def reference_string2d(text):
    """Redis's string2d over the C library: the double, or None."""
    if not text or text[:1] in (b" ", b"\t", b"\n", b"\v", b"\f", b"\r"):
        return None
    value, consumed, errno = c_strtod(text)
    if consumed != len(text) or math.isnan(value):
        return None
    if errno == _ERANGE and (math.isinf(value) or value == 0.0):
        return None
    return value


def reference_range_bound(text):
    """zslParseRange's strtod: the double, or None."""
    value, consumed, _errno = c_strtod(text)
    rest = text[consumed:]
    if (rest and rest[0] != 0) or math.isnan(value):
        return None
    return value


numberish = st.text(alphabet="0123456789.eE+-xXpPaAfFiInNtTyY( \t\0_",
                    max_size=14).map(lambda s: s.encode())


def same_double(a, b):
    return a == b and math.copysign(1, a) == math.copysign(1, b)


@settings(max_examples=600)
@given(numberish)
def test_scores_are_read_as_redis_string2d_reads_them(text):
    """parse_double accepts exactly what string2d accepts, same value."""
    expected = reference_string2d(text)
    if expected is None:
        with pytest.raises(type(errors.NOT_FLOAT)):
            parse_double(text)
    else:
        assert same_double(parse_double(text), expected)


@settings(max_examples=600)
@given(numberish)
def test_range_bounds_are_read_as_strtod_reads_them(text):
    """A score range bound follows zslParseRange's strtod rules."""
    expected = reference_range_bound(text[1:]) \
        if text.startswith(b"(") else reference_range_bound(text)
    if expected is None:
        with pytest.raises(type(SCORE_RANGE)):
            parse_score_range(text, b"1")
    else:
        low, exclusive, _high, _ = parse_score_range(text, b"1")
        assert same_double(low, expected)
        assert exclusive == text.startswith(b"(")


@given(st.floats(allow_nan=False))
def test_every_reply_score_reads_back_to_itself(value):
    """%.17g replies and ZADD parsing round-trip every double."""
    assert same_double(parse_double(format_double(value)), value)


# -- the zset order -------------------------------------------------------------

members = st.binary(min_size=0, max_size=3)
scores = st.sampled_from([0.0, -0.0, 1.0, 1.5, -2.0, math.inf, -math.inf])
ops = st.lists(st.tuples(st.sampled_from(["add", "rem", "popmin", "popmax",
                                          "delrange"]),
                         members, scores, st.integers(0, 5)), max_size=60)


@given(ops, st.booleans())
def test_zset_matches_a_sorted_list_model(operations, listpack):
    """Inserts, updates, removals and pops keep the dict and the order in
    step with a naive model; ranks and score ranges agree with it."""
    zset = ZSet(listpack)
    model = {}
    for op, member, score, n in operations:
        if op == "add":
            if listpack and score == 0.0:
                score = 0.0
            if member in zset:
                zset.set_score(member, zset[member], score)
            else:
                zset.insert(member, score)
            model[member] = score
        elif op == "rem":
            assert zset.discard(member) == (model.pop(member, None) is not None)
        elif op in ("popmin", "popmax"):
            ordered = sorted((s, m) for m, s in model.items())
            if op == "popmax":
                ordered.reverse()
            expected = [(m, s) for s, m in ordered[:n]]
            assert zset.pop_ends(n, op == "popmax") == expected
            for m, _s in expected:
                del model[m]
        else:
            ordered = sorted((s, m) for m, s in model.items())
            lo, hi = min(n, len(ordered)), min(n + 2, len(ordered))
            assert zset.delete_range(lo, hi) == hi - lo
            for _s, m in ordered[lo:hi]:
                del model[m]
    ordered = sorted((s, m) for m, s in model.items())
    assert list(zset.order) == ordered
    assert dict(zset) == model
    for rank, (_s, m) in enumerate(ordered):
        assert zset.rank(m) == rank
    for low in (-math.inf, 0.0, 1.0):
        for low_ex in (False, True):
            lo, hi = zset.score_range(low, low_ex, 1.5, False)
            assert zset.order[lo:hi] == [
                (s, m) for s, m in ordered
                if (s > low if low_ex else s >= low) and s <= 1.5]


def lex_bounds():
    finite = st.builds(LexBound, members, st.booleans())
    infinite = st.sampled_from([LexBound(None, True, LEX_MIN),
                                LexBound(None, True, LEX_MAX)])
    return st.one_of(finite, infinite)


@given(st.sets(members, max_size=12), lex_bounds(), lex_bounds())
def test_lex_ranges_agree_across_encodings_when_scores_are_equal(
        names, low, high):
    """With equal scores, the listpack walk and the skiplist bisection
    pick the same elements, forwards and reversed."""
    walked, bisected = ZSet(True), ZSet(False)
    for name in names:
        walked.insert(name, 0.0)
        bisected.insert(name, 0.0)

    def within(m):
        above = low.infinite is LEX_MIN if low.infinite else (
            m > low.value if low.exclusive else m >= low.value)
        below = high.infinite is LEX_MAX if high.infinite else (
            m < high.value if high.exclusive else m <= high.value)
        return above and below

    expected = [m for m in sorted(names) if within(m)]
    for reverse in (False, True):
        for zset in (walked, bisected):
            lo, hi = zset.lex_range(low, high, reverse)
            assert [m for _s, m in zset.order[lo:hi]] == expected

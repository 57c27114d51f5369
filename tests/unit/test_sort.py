"""SORT and SORT_RO: options, orders, patterns, STORE, errors, propagation,
expiry -- as Redis 7.0's sort.c (replies checked against redis-server 7.0.15
by tests/interop/corpus/sort.txt)."""

import ctypes
import math
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from redisrepl.commands.sort import _limit_window, parse_score, pqsort
from redisrepl.config import NOTIFY_GENERIC, NOTIFY_KEYEVENT, NOTIFY_LIST
from redisrepl.resp.values import ReplyError
from redisrepl.zset import ZSet
from tests.unit.harness import Harness

NOT_A_DOUBLE = "ERR One or more scores can't be converted into double"


def b(*items):
    return [item if isinstance(item, bytes) else str(item).encode()
            for item in items]


def error_text(reply):
    assert isinstance(reply, ReplyError), reply
    return reply.message.decode()


# -- strtod ------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.strtod.restype = ctypes.c_double
_libc.strtod.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
_ERANGE = 34


def libc_score(data):
    """What Redis's sortCommand makes of ``data``: glibc strtod, refused
    unless it stopped at the NUL, without ERANGE and not NaN."""
    buf = ctypes.create_string_buffer(data)
    end = ctypes.c_char_p()
    ctypes.set_errno(0)
    value = _libc.strtod(buf, ctypes.byref(end))
    errno = ctypes.get_errno()
    stop = ctypes.cast(end, ctypes.c_void_p).value - ctypes.addressof(buf)
    if buf.raw[stop] != 0 or errno == _ERANGE or math.isnan(value):
        return None
    return value


def same_double(a, c):
    return a == c and (a is None or math.copysign(1, a) == math.copysign(1, c))


_NUMBERISH = st.text(alphabet="0123456789abcdefxXpPeEinftyINFTY+-. \t\0", max_size=24)


@st.composite
def _near_subnormal(draw):
    """An exact value with 53 to 73 significant bits around the subnormal
    range, written exactly in hex or decimal: where glibc's rounding and
    ERANGE rules are subtle."""
    exponent = draw(st.integers(-1078, -1018))
    bits = draw(st.integers(1 << 72, (1 << 73) - 1))
    bits &= ~((1 << draw(st.integers(0, 72))) - 1)
    value = Fraction(bits, 1 << 72) * Fraction(2) ** exponent
    if draw(st.booleans()):
        return b"0x%xp%d" % (bits, exponent - 72)
    digits = value * 10 ** 1200
    assert digits.denominator == 1
    return b"%de-1200" % digits.numerator


@given(_NUMBERISH.map(str.encode) | st.binary(max_size=12) |
       st.floats(allow_nan=False).map(lambda f: repr(f).encode()) |
       st.floats(allow_nan=False).map(lambda f: f.hex().encode()) |
       _near_subnormal())
@example(b"")
@example(b"  ")
@example(b" 5")
@example(b"1\0junk")
@example(b"1e-310")
@example(b"0x1p-1074")
@example(b"0x1p-1075")
@example(b"4.9e-324")
@example(b"2e308")
@example(b"-Infinity")
@example(b"nan")
@example(b"0x1.fffffffffffff8p1023")
@example(b"0x1.fffffffffffffp-1023")
@example(b"1e-99999999")
def test_scores_are_read_as_glibc_strtod_reads_them(data):
    """parse_score accepts exactly what Redis's strtod check accepts, with
    the same value (libc's strtod is the oracle)."""
    assert same_double(parse_score(data), libc_score(data))


# -- LIMIT and the partial quicksort -------------------------------------------------

@given(st.integers(-5, 30), st.integers(-5, 30), st.integers(0, 20))
def test_limit_window_is_offset_then_count_clamped(offset, count, length):
    """LIMIT takes ``count`` elements (all if negative) from ``offset``
    (0 if negative), never past the end."""
    start, end = _limit_window(offset, count, length)
    picked = list(range(length))[start:end + 1] if end >= start else []
    expected = list(range(length))[max(offset, 0):]
    if count >= 0:
        expected = expected[:count]
    assert picked == expected


@given(st.lists(st.integers(0, 6), max_size=120), st.data())
def test_pqsort_puts_the_window_in_sorted_order(keys, data):
    """Whatever the ties, the window holds what a full sort puts there and
    the items are a permutation of the input."""
    n = len(keys)
    first = data.draw(st.integers(0, max(n - 1, 0)))
    last = data.draw(st.integers(first, max(n - 1, first)))
    items, sorted_keys = list(range(n)), list(keys)
    pqsort(items, sorted_keys, first, last)
    assert sorted(items) == list(range(n))
    assert [keys[i] for i in items] == sorted_keys
    assert sorted_keys[first:last + 1] == sorted(keys)[first:last + 1]


# Outputs of Redis's own pqsort.c (compiled, 16-byte elements as
# redisSortObject) on these inputs: tie order is part of SORT's reply.
_PQSORT_FROM_C = [
    ([1, 0, 1, 0, 1, 0, 1, 0, 1, 0], 0, 2, [9, 1, 3, 5, 7, 8, 6, 2, 0, 4]),
    ([2, 2, 1, 1, 0, 0, 2, 1, 0, 2, 1, 0], 3, 5,
     [8, 11, 4, 5, 2, 3, 10, 7, 6, 1, 0, 9]),
    ([0] * 8 + [1] * 8, 7, 9,
     [0, 2, 3, 4, 5, 6, 7, 1, 15, 8, 9, 10, 11, 12, 13, 14]),
    ([i * 7 % 3 for i in range(45)], 2, 5,
     [33, 6, 30, 18, 3, 27, 21, 36, 24, 9, 42, 0, 12, 39, 15, 34, 1, 4, 7,
      10, 13, 16, 19, 22, 25, 28, 31, 37, 40, 43, 17, 41, 32, 14, 11, 35, 8,
      2, 38, 23, 5, 26, 20, 44, 29]),
]


@pytest.mark.parametrize("keys, first, last, expected", _PQSORT_FROM_C)
def test_pqsort_orders_ties_as_redis_pqsort(keys, first, last, expected):
    """The port leaves equal keys in the very order Redis's C code does."""
    items = list(range(len(keys)))
    pqsort(items, list(keys), first, last)
    assert items == expected


# -- building data -------------------------------------------------------------------

def rpush(srv, key, *items):
    assert srv("RPUSH", key, *items) == len(items)


@pytest.fixture
def srv():
    return Harness()


# -- orders --------------------------------------------------------------------------

def test_default_sort_is_numeric_with_ties_by_bytes(srv):
    """Elements sort by their double value; equal values by their bytes."""
    rpush(srv, "l", "10", "9", "-0", "0", "1.5", "0x10", " 3", "inf", "-inf", "")
    assert srv("SORT", "l") == b("-inf", "", "-0", "0", "1.5", " 3", "9", "10",
                                 "0x10", "inf")
    assert srv("SORT", "l", "DESC") == b("inf", "0x10", "10", "9", " 3", "1.5",
                                         "0", "-0", "", "-inf")


def test_non_numeric_element_fails_the_whole_sort(srv):
    """One element strtod refuses (trailing junk, NaN, overflow, underflow)
    makes SORT an error."""
    for bad in ("abc", "1 ", "nan", "1e400", "1e-310"):
        srv("DEL", "l")
        rpush(srv, "l", "1", bad)
        assert error_text(srv("SORT", "l")) == NOT_A_DOUBLE


def test_alpha_sorts_by_bytes_and_ignores_what_follows_a_nul(srv):
    """ALPHA is strcoll (C.UTF-8: byte order, up to a NUL byte, ties kept in
    input order); ALPHA with STORE compares whole strings."""
    rpush(srv, "l", b"a\0b", b"a\0a", b"a", b"\xc3\xa9", b"B", b"a\0c")
    assert srv("SORT", "l", "ALPHA") == [b"B", b"a\0b", b"a\0a", b"a", b"a\0c",
                                         b"\xc3\xa9"]
    assert srv("SORT", "l", "ALPHA", "DESC") == [b"\xc3\xa9", b"a\0b", b"a\0a",
                                                 b"a", b"a\0c", b"B"]
    assert srv("SORT", "l", "ALPHA", "STORE", "d") == 6
    assert srv("LRANGE", "d", 0, -1) == [b"B", b"a", b"a\0a", b"a\0b", b"a\0c",
                                         b"\xc3\xa9"]


def test_last_asc_or_desc_wins(srv):
    """ASC and DESC may repeat; the last one counts."""
    rpush(srv, "l", 2, 1, 3)
    assert srv("SORT", "l", "DESC", "ASC") == b(1, 2, 3)
    assert srv("SORT", "l", "asc", "desc") == b(3, 2, 1)


# -- LIMIT -----------------------------------------------------------------------------

def test_limit_clamps_offset_and_count(srv):
    """Negative offsets start at 0, negative counts take the rest, windows
    past the end are empty."""
    rpush(srv, "l", 5, 4, 3, 2, 1)
    assert srv("SORT", "l", "LIMIT", 1, 2) == b(2, 3)
    assert srv("SORT", "l", "LIMIT", -10, 2) == b(1, 2)
    assert srv("SORT", "l", "LIMIT", 3, -1) == b(4, 5)
    assert srv("SORT", "l", "LIMIT", 2, 0) == []
    assert srv("SORT", "l", "LIMIT", 5, 1) == []
    assert srv("SORT", "l", "LIMIT", 0, 9223372036854775807) == b(1, 2, 3, 4, 5)
    assert srv("SORT", "l", "LIMIT", 1, 2, "DESC") == b(4, 3)


def test_an_empty_window_still_checks_every_weight(srv):
    """LIMIT does not spare the weight lookups: a bad one still fails."""
    rpush(srv, "l", "1", "abc")
    assert error_text(srv("SORT", "l", "LIMIT", 0, 0)) == NOT_A_DOUBLE
    assert error_text(srv("SORT", "l", "LIMIT", 9, 1, "STORE", "d")) == NOT_A_DOUBLE
    assert srv("SORT", "l", "BY", "nosort", "LIMIT", 0, 0) == []


def test_limit_needs_two_integers(srv):
    """LIMIT arguments are strict 64-bit integers; a missing one is a
    syntax error."""
    rpush(srv, "l", 1)
    not_integer = "ERR value is not an integer or out of range"
    assert error_text(srv("SORT", "l", "LIMIT", "x", 1)) == not_integer
    assert error_text(srv("SORT", "l", "LIMIT", 0, "1.0")) == not_integer
    assert error_text(srv("SORT", "l", "LIMIT", 0, "99999999999999999999")) == \
        not_integer
    assert error_text(srv("SORT", "l", "LIMIT", 0)) == "ERR syntax error"


# -- errors --------------------------------------------------------------------------

def test_syntax_errors_come_before_the_key_lookup(srv):
    """An unknown option is a syntax error even on a key of the wrong type;
    options are checked in order."""
    srv("SET", "s", "x")
    assert error_text(srv("SORT", "s", "BOGUS")) == "ERR syntax error"
    assert error_text(srv("SORT", "s", "BY")) == "ERR syntax error"
    assert error_text(srv("SORT", "s", "GET")) == "ERR syntax error"
    assert error_text(srv("SORT", "s", "STORE")) == "ERR syntax error"
    assert error_text(srv("SORT", "s", "FOO", "LIMIT", "x", 1)) == "ERR syntax error"
    assert error_text(srv("SORT", "s", "LIMIT", "x", 1, "FOO")).startswith(
        "ERR value is not an integer")


def test_sort_ro_has_no_store(srv):
    """SORT_RO refuses STORE as an unknown option and otherwise sorts."""
    rpush(srv, "l", 2, 1)
    assert error_text(srv("SORT_RO", "l", "STORE", "d")) == "ERR syntax error"
    assert srv("SORT_RO", "l", "DESC", "LIMIT", 0, 1) == b(2)
    assert srv("EXISTS", "d") == 0


def test_only_lists_sets_and_zsets_sort(srv):
    """A string or a hash is WRONGTYPE; a missing key sorts as empty."""
    srv("SET", "s", "1")
    srv("HSET", "h", "f", "1")
    for key in ("s", "h"):
        assert error_text(srv("SORT", key)).startswith("WRONGTYPE")
    assert srv("SORT", "missing") == []
    assert srv("SORT", "missing", "BY", "nosort", "GET", "#") == []


# -- BY ------------------------------------------------------------------------------

def test_by_pattern_weights_from_strings_and_hash_fields(srv):
    """BY replaces the first * with the element; ->field reads a hash; a
    missing weight counts as 0."""
    rpush(srv, "l", "a", "b", "c", "d")
    srv("MSET", "w_a", 3, "w_b", 1, "w_d", -1)
    assert srv("SORT", "l", "BY", "w_*") == b("d", "c", "b", "a")
    srv("HSET", "h_a", "f", 5)
    srv("HSET", "h_b", "f", 7)
    srv("SET", "h_c", 1)           # not a hash: no weight
    assert srv("SORT", "l", "BY", "h_*->f") == b("c", "d", "a", "b")
    assert srv("SORT", "l", "BY", "h_*->f", "DESC") == b("b", "a", "d", "c")


def test_by_pattern_corner_cases(srv):
    """Only the first * is replaced; a trailing -> is part of the key name;
    a weight that is not a number fails the sort."""
    rpush(srv, "l", "a", "b")
    srv("SET", "x_a_*", 2)
    srv("SET", "x_b_*", 1)
    assert srv("SORT", "l", "BY", "x_*_*") == b("b", "a")
    srv("SET", "y_a->", 9)
    assert srv("SORT", "l", "BY", "y_*->", "DESC") == b("a", "b")
    srv("SET", "z_a", "heavy")
    assert error_text(srv("SORT", "l", "BY", "z_*")) == NOT_A_DOUBLE


def test_by_alpha_puts_missing_weights_first(srv):
    """BY with ALPHA compares the weights as strings, missing ones first."""
    rpush(srv, "l", "a", "b", "c")
    srv("MSET", "w_a", "pear", "w_c", "apple")
    assert srv("SORT", "l", "BY", "w_*", "ALPHA") == b("b", "c", "a")
    assert srv("SORT", "l", "BY", "w_*", "ALPHA", "DESC") == b("a", "c", "b")


def test_by_alpha_with_limit_orders_ties_as_redis(srv):
    """A LIMIT window of a BY ALPHA sort with equal weights comes out in
    Redis's pqsort order (checked against redis-server 7.0.15)."""
    rpush(srv, "l", *range(10))
    assert srv("SORT", "l", "BY", "nokey_*", "ALPHA", "LIMIT", 0, 10) == \
        b(*range(10))
    assert srv("SORT", "l", "BY", "nokey_*", "ALPHA", "LIMIT", 0, 3) == b(9, 1, 2)
    srv("MSET", *[part for i in range(10) for part in (f"w_{i}", "ab"[i % 2])])
    assert srv("SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", 0, 3) == b(2, 6, 4)
    assert srv("SORT", "l", "BY", "w_*", "ALPHA", "DESC", "LIMIT", 1, 3) == \
        b(1, 3, 5)
    # Without a narrowing LIMIT the sort is stable, as glibc's qsort.
    assert srv("SORT", "l", "BY", "w_*", "ALPHA", "DESC") == \
        b(1, 3, 5, 7, 9, 0, 2, 4, 6, 8)


def test_by_without_star_keeps_the_native_order(srv):
    """BY nosort: a list in its order, DESC reversing it, LIMIT applying."""
    rpush(srv, "l", 3, "b", 1, "a")
    assert srv("SORT", "l", "BY", "nosort") == b(3, "b", 1, "a")
    assert srv("SORT", "l", "BY", "nosort", "DESC", "LIMIT", 1, 2) == b(1, "b")


def test_zset_sorts_members_and_nosort_follows_scores(srv):
    """A sorted set sorts by its members' values; BY nosort gives score
    order (reversed by DESC) and converts it to a skiplist, as Redis."""
    srv.db.set(b"z", ZSet.from_pairs([(b"30", 1.0), (b"10", 2.0), (b"20", 3.0)],
                                     listpack=True))
    assert srv("OBJECT", "ENCODING", "z") == b"listpack"
    assert srv("SORT", "z") == b(10, 20, 30)
    assert srv("OBJECT", "ENCODING", "z") == b"skiplist"
    assert srv("SORT", "z", "BY", "nosort") == b(30, 10, 20)
    assert srv("SORT", "z", "BY", "nosort", "DESC", "LIMIT", 1, 5) == b(10, 30)


def test_set_nosort_is_native_order_but_sorted_when_stored(srv):
    """An intset comes out in numeric order with BY nosort, DESC ignored;
    STORE sorts it ALPHA so a replica stores the same list."""
    srv("SADD", "s", 5, 3, 10, 1)
    assert srv("SORT", "s", "BY", "nosort", "DESC") == b(1, 3, 5, 10)
    assert srv("SORT", "s", "BY", "nosort", "DESC", "STORE", "d") == 4
    assert srv("LRANGE", "d", 0, -1) == b(5, 3, 10, 1)
    assert srv("SORT", "s") == b(1, 3, 5, 10)


# -- GET -----------------------------------------------------------------------------

def test_get_patterns_fetch_per_element(srv):
    """GET # is the element, GET pattern a key or hash field, nil when
    missing, of another type, or when the pattern has no *."""
    rpush(srv, "l", "2", "1")
    srv("SET", "n_1", "one")
    srv("HSET", "h_2", "f", "two")
    srv("SET", "const", "c")
    assert srv("SORT", "l", "GET", "#", "GET", "n_*", "GET", "h_*->f",
               "GET", "const") == \
        [b"1", b"one", None, None, b"2", None, b"two", None]
    assert srv("SORT", "l", "GET", "n_*->f", "GET", "h_*") == [None] * 4


def test_nul_in_a_pattern_ends_what_redis_searches(srv):
    """Redis looks for * and -> with C string functions: a * after a NUL
    does not count, yet the key name keeps every byte."""
    rpush(srv, "l", "1", "2")
    srv("SET", b"k\0_1", "x")
    assert srv("SORT", "l", "GET", b"k\0_*") == [None, None]
    srv("SET", b"k_1\0", "y")
    assert srv("SORT", "l", "GET", b"k_*\0") == [b"y", None]


# -- STORE -----------------------------------------------------------------------------

def test_store_writes_a_list_and_replaces_any_value(srv):
    """STORE replaces the destination (any type, TTL dropped) by a list of
    the results, GET misses stored as empty strings."""
    rpush(srv, "l", 2, 1)
    srv("SET", "d", "old", "EX", 100)
    srv("SET", "v_2", "two")
    assert srv("SORT", "l", "GET", "#", "GET", "v_*", "STORE", "d") == 4
    assert srv("LRANGE", "d", 0, -1) == b(1, "", 2, "two")
    assert srv("TTL", "d") == -1


def test_empty_result_deletes_the_destination(srv):
    """An empty result deletes the destination (a change) or does nothing."""
    srv("SET", "d", "old")
    srv("SORT", "missing", "STORE", "d")
    assert srv("EXISTS", "d") == 0
    before = srv.server.dirty
    assert srv("SORT", "missing", "STORE", "d") == 0
    assert srv.server.dirty == before
    assert srv.propagated == [b("SET", "d", "old"),
                              b("SORT", "missing", "STORE", "d")]


def test_store_is_propagated_verbatim_and_reads_are_not(srv):
    """SORT .. STORE reaches replicas as sent, dirty by the stored length;
    a plain SORT propagates nothing."""
    rpush(srv, "l", 3, 1, 2)
    srv.recorder.ops.clear()
    before = srv.server.dirty
    srv("SORT", "l", "LIMIT", 0, 2)
    assert srv.propagated == []
    srv("sort", "l", "limit", 0, 2, "store", "d")
    assert srv.propagated == [b("sort", "l", "limit", 0, 2, "store", "d")]
    assert srv.server.dirty == before + 2


def test_store_notifies_sortstore_and_del(srv):
    """STORE emits sortstore (list class); an emptying STORE emits del."""
    srv.server.notify_flags = NOTIFY_KEYEVENT | NOTIFY_LIST | NOTIFY_GENERIC
    listener = srv.new_client()
    srv.server.pubsub.psubscribe(listener, b"__keyevent@0__:*")
    listener.conn.sent.clear()
    rpush(srv, "l", 1)
    srv("SORT", "l", "STORE", "d")
    srv("SORT", "missing", "STORE", "d")
    events = b"".join(listener.conn.sent)
    assert events.count(b"__keyevent@0__:sortstore") == 1
    assert events.count(b"__keyevent@0__:del") == 1
    assert events.index(b"sortstore") < events.index(b":del")


def test_store_wakes_a_client_blocked_on_the_destination(srv):
    """A new list at the destination serves a BLPOP waiting on it."""
    rpush(srv, "l", 2, 1)
    waiter = srv.new_client()
    srv("BLPOP", "d", 0, client=waiter)
    srv("SORT", "l", "STORE", "d")
    srv.server.blocking.serve_ready()
    assert waiter.conn.unblocked_with == b("d", 1)
    assert srv("LRANGE", "d", 0, -1) == b(2)


def test_store_invalidates_a_watch_on_the_destination(srv):
    """A SORT .. STORE dooms a transaction WATCHing the destination."""
    rpush(srv, "l", 1)
    other = srv.new_client()
    srv("WATCH", "d", client=other)
    srv("SORT", "l", "STORE", "d")
    assert other.dirty_cas


# -- expiry and statistics ---------------------------------------------------------------

def test_expired_weights_and_keys_count_as_missing(srv):
    """Keys past their TTL read by BY/GET are deleted (DEL propagated) and
    count as missing; an expired source sorts as empty."""
    rpush(srv, "l", "a", "b")
    srv("SET", "w_a", 5, "PX", 100)
    srv("SET", "w_b", 3)
    srv("SET", "g_a", "A", "PX", 100)
    assert srv("SORT", "l", "BY", "w_*", "GET", "g_*") == [None, b"A"]
    srv.advance(0.2)
    srv.recorder.ops.clear()
    assert srv("SORT", "l", "BY", "w_*", "GET", "g_*") == [None, None]
    deletions = [op for op in srv.propagated if op[0] == b"DEL"]
    assert sorted(deletions) == [b("DEL", "g_a"), b("DEL", "w_a")]
    srv("PEXPIRE", "l", 100)
    srv.advance(0.2)
    assert srv("SORT", "l") == []


def test_lookups_count_keyspace_hits_and_misses(srv):
    """The sorted key and every BY/GET lookup is a read (hits/misses)."""
    rpush(srv, "l", "1", "2")
    srv("SET", "w_1", 1)
    ks = srv.server.keyspace
    hits, misses = ks.hits, ks.misses
    srv("SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*")
    assert (ks.hits - hits, ks.misses - misses) == (1 + 1 + 1, 1 + 1)

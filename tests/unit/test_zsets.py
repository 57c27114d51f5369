"""Sorted set commands: replies, errors, encodings, propagation, events."""

import pytest

from redisrepl import errors
from redisrepl.resp.values import Double, ReplyError
from tests.unit.harness import Harness


def zrange_all(srv, key):
    return srv("ZRANGE", key, "0", "-1", "WITHSCORES")


def events_of(srv):
    """Keyspace events recorded as (event, key) from now on."""
    srv("CONFIG", "SET", "notify-keyspace-events", "KEA")
    events = []
    srv.server.pubsub.notify = lambda cls, event, key, db: events.append(
        (event, key))
    return events


# -- ZADD --------------------------------------------------------------------------

def test_zadd_counts_added_or_with_ch_changed():
    """ZADD answers the members added; CH counts score changes too."""
    srv = Harness()
    assert srv("ZADD", "z", "1", "a", "2", "b") == 2
    assert srv("ZADD", "z", "5", "a", "3", "c") == 1
    assert srv("ZADD", "z", "CH", "6", "a", "3", "c", "4", "d") == 2
    assert zrange_all(srv, "z") == [b"b", b"2", b"c", b"3", b"d", b"4",
                                    b"a", b"6"]


@pytest.mark.parametrize("flags, expected", [
    (("NX",), 1.0), (("XX",), 5.0), (("GT",), 5.0), (("LT",), 1.0),
])
def test_zadd_condition_flags_on_an_existing_member(flags, expected):
    """NX never updates, XX/GT update upward, LT refuses an upward move."""
    srv = Harness()
    srv("ZADD", "z", "1", "a")
    srv("ZADD", "z", *flags, "5", "a")
    assert srv("ZSCORE", "z", "a") == expected


def test_zadd_gt_and_lt_still_add_new_members_xx_does_not():
    """GT/LT only compare against an existing score; XX never adds."""
    srv = Harness()
    assert srv("ZADD", "z", "GT", "1", "a") == 1
    assert srv("ZADD", "z", "LT", "1", "b") == 1
    assert srv("ZADD", "z", "XX", "1", "c") == 0
    assert srv("ZADD", "missing", "XX", "1", "c") == 0
    assert srv("EXISTS", "missing") == 0


def test_zadd_incr_replies_the_new_score_or_null_when_refused():
    """INCR adds to the score and replies it as a double; a refused update
    (NX on an existing member, GT going down) replies null."""
    srv = Harness()
    assert srv("ZADD", "z", "INCR", "2.5", "a") == Double(2.5)
    assert type(srv("ZADD", "z", "INCR", "1", "a")) is Double
    assert srv("ZADD", "z", "INCR", "NX", "1", "a") is None
    assert srv("ZADD", "z", "INCR", "GT", "-1", "a") is None
    assert srv("ZSCORE", "z", "a") == 3.5


@pytest.mark.parametrize("args, error", [
    (("NX", "XX", "1", "a"),
     "ERR XX and NX options at the same time are not compatible"),
    (("GT", "LT", "1", "a"),
     "ERR GT, LT, and/or NX options at the same time are not compatible"),
    (("NX", "GT", "1", "a"),
     "ERR GT, LT, and/or NX options at the same time are not compatible"),
    (("INCR", "1", "a", "2", "b"),
     "ERR INCR option supports a single increment-element pair"),
    (("1", "a", "2"), "ERR syntax error"),
    (("NX", "1"), "ERR syntax error"),
    (("1", "a", "x", "b"), "ERR value is not a valid float"),
    (("nan", "a"), "ERR value is not a valid float"),
    ((" 1", "a"), "ERR value is not a valid float"),
    (("1e400", "a"), "ERR value is not a valid float"),
    (("1e-400", "a"), "ERR value is not a valid float"),
    (("1_0", "a"), "ERR value is not a valid float"),
])
def test_zadd_errors_change_nothing(args, error):
    """Every bad ZADD replies Redis's error and adds nothing, even members
    before the bad score."""
    srv = Harness()
    assert srv("ZADD", "z", *args) == ReplyError(error)
    assert srv("EXISTS", "z") == 0
    assert srv.propagated == []


def test_zadd_incr_to_nan_is_an_error_and_changes_nothing():
    """inf + -inf is refused with Redis's NaN error."""
    srv = Harness()
    srv("ZADD", "z", "inf", "a")
    assert srv("ZINCRBY", "z", "-inf", "a") == ReplyError(
        "ERR resulting score is not a number (NaN)")
    assert srv("ZSCORE", "z", "a") == float("inf")


@pytest.mark.parametrize("text, value", [
    ("inf", float("inf")), ("-inf", float("-inf")), ("+inf", float("inf")),
    ("Infinity", float("inf")), ("0x10", 16.0), ("1e308", 1e308),
    ("-.5", -0.5), ("4.9e-324", 5e-324), ("0e500", 0.0),
])
def test_zadd_reads_scores_as_strtod_does(text, value):
    """Infinities, hex and denormals are scores, as glibc's strtod reads them."""
    srv = Harness()
    srv("ZADD", "z", text, "m")
    assert srv("ZSCORE", "z", "m") == value


def test_zadd_on_a_wrong_type_key_checks_scores_first():
    """A bad score is reported before WRONGTYPE, as Redis parses first."""
    srv = Harness()
    srv("SET", "s", "v")
    assert srv("ZADD", "s", "x", "a") == errors.NOT_FLOAT
    assert srv("ZADD", "s", "1", "a") == errors.WRONGTYPE


def test_zadd_propagates_only_when_something_changed():
    """A ZADD that changes nothing bumps no dirty and is not propagated."""
    srv = Harness()
    srv("ZADD", "z", "1", "a")
    dirty = srv.server.dirty
    srv("ZADD", "z", "1", "a")
    srv("ZADD", "z", "NX", "2", "a")
    assert srv.server.dirty == dirty
    srv("ZADD", "z", "INCR", "1", "a")
    srv("ZINCRBY", "z", "1", "a")
    assert srv.propagated == [[b"ZADD", b"z", b"1", b"a"],
                              [b"ZADD", b"z", b"INCR", b"1", b"a"],
                              [b"ZINCRBY", b"z", b"1", b"a"]]


def test_zadd_and_zincrby_events():
    """ZADD emits "zadd", INCR forms "zincr"; a no-op emits nothing."""
    srv = Harness()
    events = events_of(srv)
    srv("ZADD", "z", "1", "a")
    srv("ZADD", "z", "NX", "1", "a")
    srv("ZINCRBY", "z", "1", "a")
    assert events == [(b"zadd", b"z"), (b"zincr", b"z")]


def test_zadd_breaks_a_watch():
    """Changing a watched zset fails the transaction."""
    srv = Harness()
    srv("ZADD", "z", "1", "a")
    watcher = srv.new_client()
    srv("WATCH", "z", client=watcher)
    srv("ZADD", "z", "2", "a")
    srv("MULTI", client=watcher)
    srv("PING", client=watcher)
    assert srv("EXEC", client=watcher) is not None
    assert srv("EXEC", client=watcher) == ReplyError(
        "ERR EXEC without MULTI")


# -- encodings -----------------------------------------------------------------------

def test_listpack_turns_skiplist_past_the_entry_limit_and_stays():
    """The encoding converts once a zset outgrows the limit, never back."""
    srv = Harness()
    srv("CONFIG", "SET", "zset-max-listpack-entries", "2")
    srv("ZADD", "z", "1", "a", "2", "b")
    assert srv("OBJECT", "ENCODING", "z") == b"listpack"
    srv("ZADD", "z", "3", "c")
    assert srv("OBJECT", "ENCODING", "z") == b"skiplist"
    srv("ZREM", "z", "a", "b")
    assert srv("OBJECT", "ENCODING", "z") == b"skiplist"


def test_a_long_member_makes_a_skiplist():
    """A member longer than zset-max-listpack-value converts, even first."""
    srv = Harness()
    srv("CONFIG", "SET", "zset-max-listpack-value", "3")
    srv("ZADD", "a", "1", "abcd")
    srv("ZADD", "b", "1", "abc")
    assert srv("OBJECT", "ENCODING", "a") == b"skiplist"
    assert srv("OBJECT", "ENCODING", "b") == b"listpack"
    srv("ZADD", "b", "1", "abcd")
    assert srv("OBJECT", "ENCODING", "b") == b"skiplist"


def test_negative_zero_survives_only_in_a_skiplist():
    """A listpack stores -0 as "0"; a skiplist keeps the sign (as Redis)."""
    srv = Harness()
    srv("ZADD", "lp", "-0.0", "m")
    assert repr(srv("ZSCORE", "lp", "m")) == "0.0"
    srv("CONFIG", "SET", "zset-max-listpack-entries", "0")
    srv("ZADD", "sl", "-0.0", "m")
    assert repr(srv("ZSCORE", "sl", "m")) == "-0.0"


def test_stored_results_are_listpacks_when_they_fit():
    """ZUNIONSTORE builds its result whole: a listpack if small enough,
    whatever its sources are."""
    srv = Harness()
    srv("CONFIG", "SET", "zset-max-listpack-entries", "1")
    srv("ZADD", "z", "1", "a", "2", "b")
    srv("ZUNIONSTORE", "d", "1", "z")
    assert srv("OBJECT", "ENCODING", "d") == b"skiplist"
    srv("ZRANGESTORE", "d", "z", "0", "0")
    assert srv("OBJECT", "ENCODING", "d") == b"listpack"


def test_copy_keeps_the_encoding_and_shares_nothing():
    """COPY duplicates a zset: same encoding, independent afterwards."""
    srv = Harness()
    srv("CONFIG", "SET", "zset-max-listpack-entries", "1")
    srv("ZADD", "z", "1", "a", "2", "b")
    srv("COPY", "z", "c")
    srv("ZADD", "z", "3", "x")
    assert srv("OBJECT", "ENCODING", "c") == b"skiplist"
    assert zrange_all(srv, "c") == [b"a", b"1", b"b", b"2"]


# -- reading --------------------------------------------------------------------------

def test_scores_ranks_and_cardinality():
    """ZSCORE/ZMSCORE reply doubles or nulls; ranks count from each end."""
    srv = Harness()
    srv("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert srv("ZMSCORE", "z", "a", "x", "c") == [1.0, None, 3.0]
    assert srv("ZMSCORE", "missing", "a", "b") == [None, None]
    assert (srv("ZRANK", "z", "b"), srv("ZREVRANK", "z", "b")) == (1, 1)
    assert (srv("ZRANK", "z", "c"), srv("ZREVRANK", "z", "c")) == (2, 0)
    assert srv("ZRANK", "z", "x") is None
    assert srv("ZCARD", "z") == 3


def test_equal_scores_order_by_member_bytes():
    """Ties sort by memcmp, the shorter first, as Redis's skiplist."""
    srv = Harness()
    srv("ZADD", "z", "1", "b", "1", "ab", "1", "a", "1", "\xff", "0", "z")
    assert srv("ZRANGE", "z", "0", "-1") == [
        b"z", b"a", b"ab", b"b", "\xff".encode()]


def test_read_commands_reject_other_types():
    """Every read on a string key is WRONGTYPE."""
    srv = Harness()
    srv("SET", "s", "v")
    for args in (("ZCARD", "s"), ("ZSCORE", "s", "a"), ("ZRANK", "s", "a"),
                 ("ZRANGE", "s", "0", "1"), ("ZCOUNT", "s", "0", "1"),
                 ("ZLEXCOUNT", "s", "-", "+"), ("ZSCAN", "s", "0"),
                 ("ZRANDMEMBER", "s"), ("ZMSCORE", "s", "a")):
        assert srv(*args) == errors.WRONGTYPE, args


# -- ZREM and range removals -----------------------------------------------------------

def test_zrem_deletes_the_emptied_key_with_its_events():
    """Removing the last member deletes the key: "zrem" then "del"."""
    srv = Harness()
    srv("ZADD", "z", "1", "a", "2", "b")
    events = events_of(srv)
    assert srv("ZREM", "z", "a", "b", "c") == 2
    assert srv("EXISTS", "z") == 0
    assert events == [(b"zrem", b"z"), (b"del", b"z")]
    assert srv("ZREM", "z", "a") == 0


@pytest.mark.parametrize("args, left", [
    (("ZREMRANGEBYRANK", "z", "1", "-2"), [b"a", b"e"]),
    (("ZREMRANGEBYRANK", "z", "-100", "0"), [b"b", b"c", b"d", b"e"]),
    (("ZREMRANGEBYRANK", "z", "3", "1"), [b"a", b"b", b"c", b"d", b"e"]),
    (("ZREMRANGEBYSCORE", "z", "(1", "3"), [b"a", b"d", b"e"]),
    (("ZREMRANGEBYSCORE", "z", "-inf", "(5"), [b"e"]),
    (("ZREMRANGEBYLEX", "z", "[b", "(d"), [b"a", b"d", b"e"]),
])
def test_range_removals(args, left):
    """Each ZREMRANGEBY* removes exactly its range."""
    srv = Harness()
    srv("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    removed = srv(*args)
    assert srv("ZRANGE", "z", "0", "-1") == left
    assert removed == 5 - len(left)


def test_range_removal_that_removes_nothing_is_not_propagated():
    """An empty range changes nothing and propagates nothing."""
    srv = Harness()
    srv("ZADD", "z", "1", "a")
    srv.recorder.ops.clear()
    assert srv("ZREMRANGEBYSCORE", "z", "5", "10") == 0
    assert srv.propagated == []


# -- ranges --------------------------------------------------------------------------------

@pytest.fixture
def five():
    srv = Harness()
    srv("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    return srv


@pytest.mark.parametrize("args, expected", [
    (("ZRANGE", "z", "1", "2"), [b"b", b"c"]),
    (("ZRANGE", "z", "-2", "100"), [b"d", b"e"]),
    (("ZRANGE", "z", "0", "1", "REV"), [b"e", b"d"]),
    (("ZREVRANGE", "z", "-2", "-1"), [b"b", b"a"]),
    (("ZRANGE", "z", "(1", "3", "BYSCORE"), [b"b", b"c"]),
    (("ZRANGE", "z", "3", "(1", "BYSCORE", "REV"), [b"c", b"b"]),
    (("ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "1", "2"),
     [b"b", b"c"]),
    (("ZRANGE", "z", "inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"),
     [b"d", b"c"]),
    (("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "3", "-1"),
     [b"d", b"e"]),
    (("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "-1", "3"), []),
    (("ZREVRANGEBYSCORE", "z", "(5", "2", "LIMIT", "1", "10"), [b"c", b"b"]),
    (("ZRANGEBYLEX", "z", "[b", "(d"), [b"b", b"c"]),
    (("ZREVRANGEBYLEX", "z", "+", "(c"), [b"e", b"d"]),
    (("ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "4", "5"), [b"e"]),
])
def test_range_forms(five, args, expected):
    """Rank, score and lex ranges, reversed and limited, as Redis."""
    assert five(*args) == expected


def test_withscores_is_flat_in_resp2_and_pairs_in_resp3(five):
    """RESP3 clients get [member, score] pairs, RESP2 a flat array."""
    assert five("ZRANGE", "z", "0", "1", "WITHSCORES") == [
        b"a", b"1", b"b", b"2"]
    five.client.resp = 3
    assert five("ZRANGE", "z", "0", "1", "WITHSCORES") == [
        [b"a", 1.0], [b"b", 2.0]]
    assert five("ZPOPMIN", "z", "1") == [[b"a", 1.0]]
    assert five("ZPOPMIN", "z") == [b"b", 2.0]


@pytest.mark.parametrize("args, error", [
    (("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"),
     "ERR syntax error, LIMIT is only supported in combination with either "
     "BYSCORE or BYLEX"),
    (("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"),
     "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
    (("ZRANGE", "z", "0", "1", "REV", "REV"), "ERR syntax error"),
    (("ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"), "ERR syntax error"),
    (("ZRANGEBYSCORE", "z", "x", "1"), "ERR min or max is not a float"),
    (("ZRANGEBYSCORE", "z", "1 ", "1"), "ERR min or max is not a float"),
    (("ZRANGEBYSCORE", "z", "nan", "1"), "ERR min or max is not a float"),
    (("ZRANGEBYLEX", "z", "a", "+"),
     "ERR min or max not valid string range item"),
    (("ZRANGEBYLEX", "z", "-x", "+"),
     "ERR min or max not valid string range item"),
    (("ZRANGE", "z", "a", "1"), "ERR value is not an integer or out of range"),
    (("ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES"), "ERR syntax error"),
])
def test_range_errors(five, args, error):
    """Option conflicts and bad bounds give Redis's texts."""
    assert five(*args) == ReplyError(error)


@pytest.mark.parametrize("low, high, expected", [
    ("", "", 1), (" 2", "(4", 2), ("(", "1", 1), ("0x1", "0x2", 2),
    ("1e400", "inf", 0), ("-1e400", "1", 2), ("2\0junk", "2", 1),
])
def test_score_bounds_are_read_as_strtod(five, low, high, expected):
    """Range bounds follow strtod: leading blanks, "" as 0, NUL ends it."""
    five("ZADD", "z", "0", "zero")
    assert five("ZCOUNT", "z", low, high) == expected


def test_zrangestore_stores_or_deletes_and_emits(five):
    """ZRANGESTORE replaces the destination; an empty range deletes it."""
    events = events_of(five)
    five("SET", "d", "old")
    five("EXPIRE", "d", "100")
    assert five("ZRANGESTORE", "d", "z", "1", "2") == 2
    assert five("ZRANGE", "d", "0", "-1", "WITHSCORES") == [
        b"b", b"2", b"c", b"3"]
    assert five("TTL", "d") == -1
    assert five("ZRANGESTORE", "d", "z", "10", "20") == 0
    assert five("EXISTS", "d") == 0
    assert events[-2:] == [(b"zrangestore", b"d"), (b"del", b"d")]


def test_lex_ranges_on_a_listpack_walk_it_linearly():
    """With mixed scores a listpack is scanned from the first element past
    the bound, as Redis does (lex order along the zset is not assumed)."""
    srv = Harness()
    srv("ZADD", "m", "1", "a", "2", "d", "3", "b", "4", "e")
    assert srv("ZRANGEBYLEX", "m", "[a", "[b") == [b"a"]
    assert srv("ZREVRANGEBYLEX", "m", "[b", "[a") == [b"b", b"d", b"a"]
    assert srv("ZRANGEBYLEX", "m", "[b", "[c") == []


# -- pops ---------------------------------------------------------------------------------

def test_zpop_forms_and_their_propagation(five):
    """ZPOPMIN/ZPOPMAX propagate as sent; ZMPOP as ZPOPMIN/ZPOPMAX with
    the count given."""
    assert five("ZPOPMIN", "z") == [b"a", 1.0]
    assert five("ZPOPMAX", "z", "2") == [b"e", 5.0, b"d", 4.0]
    assert five("ZMPOP", "2", "none", "z", "MIN", "COUNT", "10") == [
        b"z", [[b"b", 2.0], [b"c", 3.0]]]
    assert five("EXISTS", "z") == 0
    assert five("ZMPOP", "1", "z", "MIN") is not None
    assert five.propagated[1:] == [
        [b"ZPOPMIN", b"z"], [b"ZPOPMAX", b"z", b"2"],
        [b"ZPOPMIN", b"z", b"10"]]


def test_zpop_count_zero_and_errors_change_nothing(five):
    """COUNT 0 and bad counts pop nothing and propagate nothing."""
    five.recorder.ops.clear()
    assert five("ZPOPMIN", "z", "0") == []
    assert five("ZPOPMIN", "z", "-1") == ReplyError(
        "ERR value is out of range, must be positive")
    assert five("ZPOPMIN", "z", "x") == ReplyError(
        "ERR value is out of range, must be positive")
    assert five("ZMPOP", "1", "z", "MIN", "COUNT", "0") == ReplyError(
        "ERR count should be greater than 0")
    assert five("ZMPOP", "0", "z", "MIN") == ReplyError(
        "ERR numkeys should be greater than 0")
    assert five("ZCARD", "z") == 5
    assert five.propagated == []


def test_zpop_events(five):
    """A pop emits "zpopmin"/"zpopmax", then "del" if it emptied the key."""
    events = events_of(five)
    five("ZPOPMAX", "z")
    five("ZPOPMIN", "z", "10")
    assert events == [(b"zpopmax", b"z"), (b"zpopmin", b"z"), (b"del", b"z")]


# -- ZRANDMEMBER ----------------------------------------------------------------------------

def test_zrandmember_counts(five):
    """Positive counts give distinct members, negative ones may repeat,
    and a count past the size gives the whole zset, highest first."""
    members = {b"a", b"b", b"c", b"d", b"e"}
    assert five("ZRANDMEMBER", "z") in members
    picked = five("ZRANDMEMBER", "z", "3")
    assert len(set(picked)) == 3 and set(picked) <= members
    assert len(five("ZRANDMEMBER", "z", "-20")) == 20
    assert five("ZRANDMEMBER", "z", "9") == [b"e", b"d", b"c", b"b", b"a"]
    pairs = five("ZRANDMEMBER", "z", "-2", "WITHSCORES")
    assert len(pairs) == 4 and pairs[1] == {b"a": b"1", b"b": b"2", b"c": b"3",
                                            b"d": b"4", b"e": b"5"}[pairs[0]]
    assert five("ZRANDMEMBER", "z", "0") == []
    assert five("ZRANDMEMBER", "missing", "3") == []
    assert five("ZRANDMEMBER", "missing") is None


def test_zrandmember_range_errors(five):
    """Counts outside Redis's ranges get its two texts."""
    assert five("ZRANDMEMBER", "z", "-9223372036854775808") == ReplyError(
        "ERR value is out of range, value must between -9223372036854775807 "
        "and 9223372036854775807")
    assert five("ZRANDMEMBER", "z", "4611686018427387904",
                "WITHSCORES") == ReplyError("ERR value is out of range")


# -- ZUNION / ZINTER / ZDIFF --------------------------------------------------------------

@pytest.fixture
def two():
    srv = Harness()
    srv("ZADD", "a", "1", "x", "2", "y", "3", "z")
    srv("ZADD", "b", "10", "y", "20", "z", "30", "w")
    return srv


@pytest.mark.parametrize("args, expected", [
    (("ZUNION", "2", "a", "b", "WITHSCORES"),
     [b"x", b"1", b"y", b"12", b"z", b"23", b"w", b"30"]),
    (("ZINTER", "2", "a", "b", "WEIGHTS", "2", "1", "AGGREGATE", "MIN",
      "WITHSCORES"), [b"y", b"4", b"z", b"6"]),
    (("ZINTER", "2", "a", "b", "AGGREGATE", "MAX"), [b"y", b"z"]),
    (("ZDIFF", "2", "b", "a", "WITHSCORES"), [b"w", b"30"]),
    (("ZINTERCARD", "2", "a", "b"), 2),
    (("ZINTERCARD", "2", "a", "b", "LIMIT", "1"), 1),
    (("ZUNION", "2", "a", "missing"), [b"x", b"y", b"z"]),
    (("ZINTER", "2", "a", "missing"), []),
])
def test_set_operations(two, args, expected):
    """Union, intersection, difference and their options."""
    assert two(*args) == expected


def test_plain_sets_count_as_score_one(two):
    """A set is an input whose members score 1."""
    two("SADD", "s", "y", "v")
    assert two("ZUNION", "2", "a", "s", "WITHSCORES") == [
        b"v", b"1", b"x", b"1", b"y", b"3", b"z", b"3"]


def test_nan_from_infinities_counts_as_zero():
    """inf + -inf and 0 * inf aggregate to 0, as Redis."""
    srv = Harness()
    srv("ZADD", "p", "inf", "m")
    srv("ZADD", "n", "-inf", "m")
    assert srv("ZUNION", "2", "p", "n", "WITHSCORES") == [b"m", b"0"]
    assert srv("ZUNION", "1", "p", "WEIGHTS", "0", "WITHSCORES") == [
        b"m", b"0"]


def test_store_forms_replace_or_delete_the_destination(two):
    """The STORE forms store the result or delete the destination, and
    propagate as sent, once."""
    two.recorder.ops.clear()
    assert two("ZINTERSTORE", "d", "2", "a", "b") == 2
    assert two("ZRANGE", "d", "0", "-1", "WITHSCORES") == [
        b"y", b"12", b"z", b"23"]
    assert two("ZDIFFSTORE", "d", "2", "a", "a") == 0
    assert two("EXISTS", "d") == 0
    assert two("ZDIFFSTORE", "d", "2", "a", "a") == 0
    assert two.propagated == [[b"ZINTERSTORE", b"d", b"2", b"a", b"b"],
                              [b"ZDIFFSTORE", b"d", b"2", b"a", b"a"]]


@pytest.mark.parametrize("args, error", [
    (("ZUNION", "0", "a"),
     "ERR at least 1 input key is needed for 'zunion' command"),
    (("ZINTERCARD", "0", "a"),
     "ERR at least 1 input key is needed for 'zintercard' command"),
    (("ZUNION", "3", "a", "b"), "ERR syntax error"),
    (("ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"),
     "ERR weight value is not a float"),
    (("ZUNION", "2", "a", "b", "AGGREGATE", "avg"), "ERR syntax error"),
    (("ZDIFF", "1", "a", "WEIGHTS", "1"), "ERR syntax error"),
    (("ZUNIONSTORE", "d", "1", "a", "WITHSCORES"), "ERR syntax error"),
    (("ZINTERCARD", "1", "a", "LIMIT", "-1"), "ERR LIMIT can't be negative"),
    (("ZUNION", "2", "a", "str"),
     "WRONGTYPE Operation against a key holding the wrong kind of value"),
])
def test_set_operation_errors(two, args, error):
    """Bad numkeys, options and inputs give Redis's errors."""
    two("SET", "str", "v")
    assert two(*args) == ReplyError(error)


# -- ZSCAN ----------------------------------------------------------------------------------

def test_zscan_of_a_listpack_is_whole_with_scores_as_stored():
    """A listpack comes back in one call, scores in its stored form."""
    srv = Harness()
    srv("ZADD", "z", "1e18", "a", "0.1", "b", "inf", "c", "1.5", "d")
    assert srv("ZSCAN", "z", "12345") == [b"0", [
        b"b", b"0.10000000000000001", b"d", b"1.5",
        b"a", b"1000000000000000000", b"c", b"inf"]]
    assert srv("ZSCAN", "z", "0", "MATCH", "[ab]") == [b"0", [
        b"b", b"0.10000000000000001", b"a", b"1000000000000000000"]]


def test_zscan_of_a_skiplist_returns_every_member_while_it_changes():
    """A full iteration returns each member present throughout, once at
    least, while members are added and removed between calls."""
    srv = Harness()
    srv("CONFIG", "SET", "zset-max-listpack-entries", "4")
    for i in range(200):
        srv("ZADD", "z", str(i), "m%d" % i)
    seen = {}
    cursor = b"0"
    step = 0
    while True:
        cursor, flat = srv("ZSCAN", "z", cursor, "COUNT", "7")
        seen.update(zip(flat[::2], flat[1::2], strict=True))
        srv("ZADD", "z", "1", "new%d" % step)
        srv("ZREM", "z", "m%d" % (199 - step))
        step += 1
        if cursor == b"0":
            break
    for i in range(200 - step):
        assert seen[b"m%d" % i] == b"%d" % i
    assert srv("ZSCAN", "z", "x") == errors.INVALID_CURSOR

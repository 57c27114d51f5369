"""The hash family: replies, errors, encodings, propagation, signals,
notifications, HRANDFIELD's rules and HSCAN's guarantee."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.hashtype import Hash
from redisrepl.resp.values import OK, Map, ReplyError
from tests.unit.harness import Harness

WRONGTYPE = ReplyError(
    "WRONGTYPE Operation against a key holding the wrong kind of value")


def encoding(srv, key):
    return srv("OBJECT", "ENCODING", key)


def events(srv):
    """Turn on every keyspace notification; returns the list they land in."""
    srv("CONFIG", "SET", "notify-keyspace-events", "KEA")
    seen = []
    srv.server.pubsub.publish = lambda channel, message: seen.append(
        (channel, message))
    return seen


def keyevents(seen):
    return [(channel.split(b":", 1)[1], key) for channel, key in seen
            if channel.startswith(b"__keyevent@")]


def full_hscan(srv, key, count=10, client=None):
    """Every field an HSCAN iteration returns, with the number of calls."""
    cursor, fields, calls = b"0", [], 0
    while True:
        cursor, flat = srv("HSCAN", key, cursor, "COUNT", count, client=client)
        fields.extend(flat[0::2])
        calls += 1
        if cursor == b"0":
            return fields, calls


# -- HSET HMSET HSETNX HGET HMGET ------------------------------------------------

def test_hset_counts_created_fields_and_overwrites(srv):
    """HSET replies with the number of new fields; existing ones are updated."""
    assert srv("HSET", "h", "a", "1", "b", "2") == 2
    assert srv("HSET", "h", "a", "x", "c", "3") == 1
    assert srv("HGET", "h", "a") == b"x"
    assert srv("HGET", "h", "zz") is None
    assert srv("HGET", "missing", "a") is None
    assert srv("HMGET", "h", "a", "zz", "c") == [b"x", None, b"3"]
    assert srv("HMGET", "missing", "a", "b") == [None, None]


def test_hset_and_hmset_need_field_value_pairs(srv):
    """An unpaired field is an arity error naming the command, before any
    type check, and creates nothing."""
    assert srv("HSET", "h", "a") == ReplyError(
        "ERR wrong number of arguments for 'hset' command")
    assert srv("HMSET", "h", "a", "1", "b") == ReplyError(
        "ERR wrong number of arguments for 'hmset' command")
    srv("SET", "s", "v")
    assert srv("HSET", "s", "a") == ReplyError(
        "ERR wrong number of arguments for 'hset' command")
    assert srv("EXISTS", "h") == 0


def test_hmset_replies_ok(srv):
    """HMSET is HSET with an +OK reply."""
    assert srv("HMSET", "h", "a", "1", "b", "2") == OK
    assert srv("HGETALL", "h") == [(b"a", b"1"), (b"b", b"2")]


def test_hsetnx_sets_only_new_fields(srv):
    """HSETNX writes a missing field and leaves an existing one."""
    assert srv("HSETNX", "h", "a", "1") == 1
    assert srv("HSETNX", "h", "a", "2") == 0
    assert srv("HGET", "h", "a") == b"1"


def test_every_command_refuses_another_type(srv):
    """A non-hash key answers WRONGTYPE and is left alone."""
    srv("SET", "s", "v")
    for args in (("HSET", "s", "a", "1"), ("HMSET", "s", "a", "1"),
                 ("HSETNX", "s", "a", "1"), ("HGET", "s", "a"),
                 ("HMGET", "s", "a"), ("HDEL", "s", "a"), ("HLEN", "s"),
                 ("HSTRLEN", "s", "a"), ("HEXISTS", "s", "a"), ("HKEYS", "s"),
                 ("HVALS", "s"), ("HGETALL", "s"), ("HINCRBY", "s", "a", "1"),
                 ("HINCRBYFLOAT", "s", "a", "1"), ("HRANDFIELD", "s"),
                 ("HRANDFIELD", "s", "2"), ("HSCAN", "s", "0")):
        assert srv(*args) == WRONGTYPE, args
    assert srv("GET", "s") == b"v"


# -- HDEL and the emptied key ------------------------------------------------------

def test_hdel_counts_and_deletes_the_emptied_key(srv):
    """HDEL counts removed fields; the last one takes the key with it."""
    srv("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert srv("HDEL", "h", "a", "zz", "a") == 1
    assert srv("HDEL", "h", "b", "c", "d") == 2
    assert srv("EXISTS", "h") == 0
    assert srv("HDEL", "h", "a") == 0


def test_hdel_notifies_hdel_then_del(srv):
    """Emptying a hash emits hdel then a generic del, as Redis does."""
    srv("HSET", "h", "a", "1", "b", "2")
    seen = events(srv)
    srv("HDEL", "h", "zz")
    assert seen == []
    srv("HDEL", "h", "a")
    srv("HDEL", "h", "b")
    assert keyevents(seen) == [(b"hdel", b"h"), (b"hdel", b"h"), (b"del", b"h")]


def test_write_notifications(srv):
    """HSET/HMSET/HSETNX emit hset, the increments their own events, and a
    write that changes nothing emits nothing."""
    seen = events(srv)
    srv("HSET", "h", "a", "1")
    srv("HMSET", "h", "b", "2")
    srv("HSETNX", "h", "c", "3")
    srv("HSETNX", "h", "c", "4")
    srv("HINCRBY", "h", "n", "1")
    srv("HINCRBYFLOAT", "h", "f", "1.5")
    srv("HINCRBY", "h", "a", "x")
    assert keyevents(seen) == [(b"hset", b"h")] * 3 + [
        (b"hincrby", b"h"), (b"hincrbyfloat", b"h")]
    assert (b"__keyspace@0__:h", b"hset") in seen


# -- reads ------------------------------------------------------------------------

def test_small_hashes_reply_in_insertion_order(srv):
    """HGETALL/HKEYS/HVALS follow listpack order: insertion, updates in
    place, a deleted and re-added field at the end."""
    srv("HSET", "h", "z", "1", "a", "2", "m", "3")
    srv("HSET", "h", "a", "20")
    srv("HDEL", "h", "z")
    srv("HSET", "h", "z", "10")
    assert srv("HKEYS", "h") == [b"a", b"m", b"z"]
    assert srv("HVALS", "h") == [b"20", b"3", b"10"]
    reply = srv("HGETALL", "h")
    assert type(reply) is Map
    assert list(reply) == [(b"a", b"20"), (b"m", b"3"), (b"z", b"10")]


def test_missing_key_replies(srv):
    """A missing key reads as an empty hash: a map for HGETALL, arrays for
    HKEYS/HVALS, zeros, an empty scan."""
    assert type(srv("HGETALL", "nope")) is Map and srv("HGETALL", "nope") == []
    assert srv("HKEYS", "nope") == [] and srv("HVALS", "nope") == []
    assert srv("HLEN", "nope") == 0
    assert srv("HSTRLEN", "nope", "f") == 0
    assert srv("HEXISTS", "nope", "f") == 0
    assert srv("HSCAN", "nope", "0", "BADOPTION") == [b"0", []]


def test_hlen_hstrlen_hexists(srv):
    """Lengths and existence of fields."""
    srv("HSET", "h", "a", "hello", "b", "", "c", "-123")
    assert srv("HLEN", "h") == 3
    assert [srv("HSTRLEN", "h", f) for f in "abcz"] == [5, 0, 4, 0]
    assert srv("HEXISTS", "h", "b") == 1
    assert srv("HEXISTS", "h", "z") == 0


def test_reads_count_keyspace_hits_and_misses(srv):
    """Read commands count as lookupKeyRead: one hit or miss each."""
    srv("HSET", "h", "a", "1")
    keyspace = srv.server.keyspace
    hits, misses = keyspace.hits, keyspace.misses
    srv("HGET", "h", "a")
    srv("HGETALL", "nope")
    assert (keyspace.hits, keyspace.misses) == (hits + 1, misses + 1)


# -- HINCRBY / HINCRBYFLOAT ---------------------------------------------------------

def test_hincrby_arithmetic_and_errors(srv):
    """HINCRBY adds 64-bit integers and refuses non-integers and overflow,
    changing nothing."""
    assert srv("HINCRBY", "h", "n", "5") == 5
    assert srv("HINCRBY", "h", "n", "-8") == -3
    assert srv("HINCRBY", "h", "n", "x") == ReplyError(
        "ERR value is not an integer or out of range")
    srv("HSET", "h", "s", "abc", "lead", "007", "max", str(2**63 - 1))
    for field in ("s", "lead"):
        assert srv("HINCRBY", "h", field, "1") == ReplyError(
            "ERR hash value is not an integer")
    assert srv("HINCRBY", "h", "max", "1") == ReplyError(
        "ERR increment or decrement would overflow")
    assert srv("HGET", "h", "max") == str(2**63 - 1).encode()
    assert srv("HINCRBY", "h", "n", str(-(2**63) + 3)) == -(2**63)


def test_hincrby_parses_the_increment_before_the_key(srv):
    """A bad increment is reported even on a key of another type, and a
    missing key is not created by a failed HINCRBY."""
    srv("SET", "s", "v")
    assert srv("HINCRBY", "s", "f", "x") == ReplyError(
        "ERR value is not an integer or out of range")
    assert srv("HINCRBYFLOAT", "s", "f", "x") == ReplyError(
        "ERR value is not a valid float")
    assert srv("HINCRBY", "nope", "f", "x") == ReplyError(
        "ERR value is not an integer or out of range")
    assert srv("EXISTS", "nope") == 0


def test_hincrbyfloat_uses_long_double_arithmetic(srv):
    """10.5 + 0.1 is 10.6 as in Redis (a double would print 10.6000000001)."""
    assert srv("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert srv("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    assert srv("HINCRBYFLOAT", "h", "f", "-5") == b"5.6"
    assert srv("HINCRBYFLOAT", "h", "g", "5.0e3") == b"5000"
    assert srv("HGET", "h", "f") == b"5.6"


def test_hincrbyfloat_errors(srv):
    """Infinite increments, non-float values and overflow are refused with
    Redis's three texts; nothing is written."""
    srv("HSET", "h", "s", "abc", "big", "1e4932")
    assert srv("HINCRBYFLOAT", "h", "f", "inf") == ReplyError(
        "ERR value is NaN or Infinity")
    assert srv("HINCRBYFLOAT", "h", "f", "nan") == ReplyError(
        "ERR value is not a valid float")
    assert srv("HINCRBYFLOAT", "h", "s", "1") == ReplyError(
        "ERR hash value is not a float")
    assert srv("HINCRBYFLOAT", "h", "big", "1e4932") == ReplyError(
        "ERR increment would produce NaN or Infinity")
    assert srv("HKEYS", "h") == [b"s", b"big"]


def test_hincrbyfloat_is_propagated_as_hset_with_the_result(srv):
    """The replica gets HSET key field <result>, not the increment."""
    srv("HINCRBYFLOAT", "h", "f", "1.5")
    srv("HINCRBYFLOAT", "h", "f", "0.25")
    assert srv.propagated == [[b"HSET", b"h", b"f", b"1.5"],
                              [b"HSET", b"h", b"f", b"1.75"]]


def test_propagation_of_writes(srv):
    """Writes propagate as given; writes that change nothing and reads are
    not propagated; HSET bumps dirty by its number of pairs."""
    dirty = srv.server.dirty
    srv("HSET", "h", "a", "1", "b", "2")
    assert srv.server.dirty == dirty + 2
    srv("HSETNX", "h", "a", "9")           # exists: no change
    srv("HDEL", "h", "zz")                 # nothing deleted
    srv("HGET", "h", "a")
    srv("HINCRBY", "h", "a", "2")
    srv("HDEL", "h", "a", "zz")
    assert srv.propagated == [
        [b"HSET", b"h", b"a", b"1", b"b", b"2"],
        [b"HINCRBY", b"h", b"a", b"2"],
        [b"HDEL", b"h", b"a", b"zz"],
    ]


def test_writes_signal_watchers(srv):
    """Every in-place hash write breaks a WATCH on the key."""
    srv("HSET", "h", "a", "1", "n", "1")
    for args in (("HSET", "h", "a", "2"), ("HSETNX", "h", "b", "1"),
                 ("HINCRBY", "h", "n", "1"), ("HINCRBYFLOAT", "h", "n", "1"),
                 ("HDEL", "h", "b")):
        watcher = srv.new_client()
        srv.db.watch(watcher, b"h")
        srv(*args)
        assert watcher.dirty_cas, args
        srv.db.unwatch(watcher, b"h")


# -- encodings --------------------------------------------------------------------

def test_listpack_until_too_many_entries_then_hashtable_for_good(srv):
    """Past hash-max-listpack-entries the hash is a hashtable and stays one
    after shrinking, as Redis never converts back."""
    srv("CONFIG", "SET", "hash-max-listpack-entries", "3")
    srv("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert encoding(srv, "h") == b"listpack"
    srv("HSET", "h", "c", "30")
    assert encoding(srv, "h") == b"listpack"
    srv("HSET", "h", "d", "4")
    assert encoding(srv, "h") == b"hashtable"
    srv("HDEL", "h", "a", "b", "c")
    assert encoding(srv, "h") == b"hashtable"
    srv("DEL", "h")
    srv("HSET", "h", "a", "1")
    assert encoding(srv, "h") == b"listpack"


@pytest.mark.parametrize("args", [
    ("HSET", "h", "f", "123456789"),
    ("HSET", "h", "123456789", "v"),
    ("HMSET", "h", "f", "123456789"),
    ("HSETNX", "h", "g", "123456789"),
    ("HINCRBY", "h", "longfieldname", "1"),
    ("HINCRBYFLOAT", "h", "longfieldname", "1"),
    ("HINCRBYFLOAT", "h", "f", "0.123456789"),
])
def test_a_long_field_or_value_makes_a_hashtable(srv, args):
    """Any field or value longer than hash-max-listpack-value converts."""
    srv("CONFIG", "SET", "hash-max-listpack-value", "8")
    srv("HSET", "h", "f", "1")
    assert encoding(srv, "h") == b"listpack"
    srv(*args)
    assert encoding(srv, "h") == b"hashtable"


def test_hsetnx_on_an_existing_field_does_not_convert(srv):
    """HSETNX checks lengths only when it writes (as hsetnxCommand)."""
    srv("CONFIG", "SET", "hash-max-listpack-value", "4")
    srv("HSET", "h", "f", "1")
    srv("HSETNX", "h", "f", "123456789")
    assert encoding(srv, "h") == b"listpack"


def test_thresholds_follow_config_set_after_first_use(srv):
    """CONFIG SET (aliases too) reaches hashes already written: the cached
    thresholds follow it, and a refused CONFIG SET leaves them alone."""
    srv("HSET", "h", "a", "1")
    assert isinstance(srv("CONFIG", "SET", "hash-max-ziplist-value", "2",
                          "maxmemory", "bad"), ReplyError)
    srv("HSET", "h", "b", "123")
    assert encoding(srv, "h") == b"listpack"
    srv("CONFIG", "SET", "hash-max-ziplist-entries", "2")
    srv("HSET", "h", "c", "1")
    assert encoding(srv, "h") == b"hashtable"
    srv("CONFIG", "SET", "hash-max-listpack-value", "2")
    srv("HSET", "h2", "a", "123")
    assert encoding(srv, "h2") == b"hashtable"


def test_zero_entries_means_a_hashtable_from_the_first_field(srv):
    """hash-max-listpack-entries 0: any hash is a hashtable."""
    srv("CONFIG", "SET", "hash-max-listpack-entries", "0")
    srv("HSET", "h", "a", "1")
    assert encoding(srv, "h") == b"hashtable"


def test_copy_keeps_contents_and_encoding_but_shares_nothing(srv):
    """COPY duplicates the hash with its encoding; changing one leaves the
    other alone."""
    srv("CONFIG", "SET", "hash-max-listpack-entries", "1")
    srv("HSET", "h", "a", "1", "b", "2")
    assert srv("COPY", "h", "h2") == 1
    assert encoding(srv, "h2") == b"hashtable"
    srv("HSET", "h", "a", "changed")
    assert srv("HGET", "h2", "a") == b"1"
    assert srv("TYPE", "h2") == b"hash"


# -- HRANDFIELD ----------------------------------------------------------------------

def test_hrandfield_argument_errors(srv):
    """Count parsing and range, WITHVALUES spelling and its tighter range."""
    srv("HSET", "h", "a", "1")
    assert srv("HRANDFIELD", "h", "x") == ReplyError(
        "ERR value is not an integer or out of range")
    assert srv("HRANDFIELD", "h", str(-(2**63))) == ReplyError(
        "ERR value is out of range, value must between -9223372036854775807 "
        "and 9223372036854775807")
    assert srv("HRANDFIELD", "h", "1", "WITHVALUE") == ReplyError(
        "ERR syntax error")
    assert srv("HRANDFIELD", "h", "1", "WITHVALUES", "x") == ReplyError(
        "ERR syntax error")
    assert srv("HRANDFIELD", "h", str(2**62), "WITHVALUES") == ReplyError(
        "ERR value is out of range")
    assert srv("HRANDFIELD", "h", str(2**62 - 1), "WITHVALUES") == [b"a", b"1"]


def test_hrandfield_single_and_missing(srv):
    """No count: one field (or null); a count on a missing key: empty."""
    assert srv("HRANDFIELD", "nope") is None
    assert srv("HRANDFIELD", "nope", "3") == []
    srv("HSET", "h", "a", "1", "b", "2")
    assert srv("HRANDFIELD", "h") in (b"a", b"b")
    assert srv("HRANDFIELD", "h", "0") == []


@pytest.mark.parametrize("max_entries", ["512", "0"])
def test_hrandfield_count_rules(srv, max_entries):
    """Positive counts give distinct fields (the whole hash when count >=
    size), negative counts may repeat and give exactly -count fields."""
    srv("CONFIG", "SET", "hash-max-listpack-entries", max_entries)
    fields = [b"f%d" % i for i in range(20)]
    for field in fields:
        srv("HSET", "h", field, b"v" + field)
    assert srv("HRANDFIELD", "h", "20") == srv("HKEYS", "h")
    for count in (1, 2, 5, 7, 19):
        picked = srv("HRANDFIELD", "h", count)
        assert len(picked) == count == len(set(picked))
        assert set(picked) <= set(fields)
    picked = srv("HRANDFIELD", "h", "-100")
    assert len(picked) == 100 and set(picked) <= set(fields)


def test_hrandfield_distinct_picks_keep_listpack_order(srv):
    """On a listpack, distinct picks come in the hash's order, as
    lpRandomPairsUnique gives them."""
    for i in range(10):
        srv("HSET", "h", "f%d" % i, i)
    keys = srv("HKEYS", "h")
    for _ in range(20):
        picked = srv("HRANDFIELD", "h", "4")
        assert picked == sorted(picked, key=keys.index)


def test_hrandfield_withvalues_shape_per_protocol(srv):
    """WITHVALUES is a flat array in RESP2 and an array of pairs in RESP3."""
    srv("HSET", "h", "a", "1")
    assert srv("HRANDFIELD", "h", "-2", "WITHVALUES") == [b"a", b"1", b"a", b"1"]
    srv("HELLO", "3")
    assert srv("HRANDFIELD", "h", "-2", "WITHVALUES") == [(b"a", b"1")] * 2
    assert srv("HRANDFIELD", "h", "5", "WITHVALUES") == [(b"a", b"1")]


def test_hrandfield_negative_count_covers_the_hash(srv):
    """Repeated picks reach every field of a hashtable (no field is
    unreachable through the scan index)."""
    srv("CONFIG", "SET", "hash-max-listpack-entries", "0")
    for i in range(50):
        srv("HSET", "h", "f%d" % i, i)
    srv("HDEL", "h", *("f%d" % i for i in range(0, 50, 2)))
    counts = Counter(srv("HRANDFIELD", "h", "-5000"))
    assert set(counts) == {b"f%d" % i for i in range(1, 50, 2)}


def test_hrandfield_absurd_negative_count_fails_fast(srv):
    """A count no server could hold is refused at once instead of eating
    memory while building the reply."""
    srv("HSET", "h", "a", "1")
    assert isinstance(srv("HRANDFIELD", "h", str(-(2**63 - 1))), ReplyError)


# -- HSCAN ----------------------------------------------------------------------------

def test_hscan_returns_a_listpack_whole(srv):
    """A listpack hash comes back in one reply with cursor 0, whatever the
    cursor and COUNT; MATCH filters fields."""
    srv("HSET", "h", "f1", "a", "f2", "b", "g1", "c")
    assert srv("HSCAN", "h", "0", "COUNT", "1") == [
        b"0", [b"f1", b"a", b"f2", b"b", b"g1", b"c"]]
    assert srv("HSCAN", "h", "999") == srv("HSCAN", "h", "0")
    assert srv("HSCAN", "h", "0", "MATCH", "f*") == [
        b"0", [b"f1", b"a", b"f2", b"b"]]


def test_hscan_argument_errors(srv):
    """Bad cursors and options, TYPE included, are Redis's errors."""
    srv("HSET", "h", "a", "1")
    assert srv("HSCAN", "h", "x") == ReplyError("ERR invalid cursor")
    for options in (("COUNT", "0"), ("COUNT", "x"), ("TYPE", "hash"),
                    ("MATCH",), ("FOO", "bar")):
        assert isinstance(srv("HSCAN", "h", "0", *options), ReplyError), options


def test_hscan_iterates_a_hashtable_in_steps(srv):
    """A hashtable is scanned in several calls that together return every
    field once with its value."""
    srv("CONFIG", "SET", "hash-max-listpack-entries", "0")
    expected = {b"f%d" % i: b"%d" % i for i in range(100)}
    for field, value in expected.items():
        srv("HSET", "h", field, value)
    fields, calls = full_hscan(srv, "h", count=7)
    assert calls > 1
    assert sorted(fields) == sorted(expected)
    cursor, flat = srv("HSCAN", "h", "0", "COUNT", "1000", "MATCH", "f1?")
    assert cursor == b"0"
    assert dict(zip(flat[0::2], flat[1::2], strict=True)) == {
        b"f%d" % i: b"%d" % i for i in range(10, 20)}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_hscan_guarantee_under_changes(data):
    """Fields present for a whole HSCAN iteration are all returned, however
    the hash grows and shrinks between calls (HSET, HDEL, HINCRBY)."""
    srv = Harness()
    srv("CONFIG", "SET", "hash-max-listpack-entries", "4")
    initial = data.draw(st.sets(st.integers(0, 60), min_size=5, max_size=40))
    for i in initial:
        srv("HSET", "h", "f%d" % i, i)
    present = {b"f%d" % i for i in initial}
    always = set(present)
    cursor, seen = b"0", set()
    count = data.draw(st.integers(1, 8))
    while True:
        cursor, flat = srv("HSCAN", "h", cursor, "COUNT", count)
        seen.update(flat[0::2])
        if cursor == b"0":
            break
        for _ in range(data.draw(st.integers(0, 3))):
            field = b"f%d" % data.draw(st.integers(0, 80))
            if data.draw(st.booleans()) and len(present) > 1:
                srv("HDEL", "h", field)
                present.discard(field)
                always.discard(field)
            else:
                srv("HINCRBY", "h", field, 1)
                present.add(field)
    assert always <= seen


# -- a model of the whole family ---------------------------------------------------

class HashModel:
    """What Redis 7.0 holds for one key: an ordered dict and its encoding."""

    def __init__(self, max_entries, max_value):
        self.fields = {}
        self.listpack = True
        self.max_entries, self.max_value = max_entries, max_value

    def write(self, pairs, check_all=True):
        if check_all and any(len(x) > self.max_value
                             for pair in pairs for x in pair):
            self.listpack = False
        for field, value in pairs:
            if len(field) > self.max_value or len(value) > self.max_value:
                self.listpack = False
            self.fields[field] = value
        if len(self.fields) > self.max_entries:
            self.listpack = False


_FIELDS = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"long-field"])
_VALUES = st.sampled_from([b"1", b"-7", b"x", b"", b"123456", b"2.5"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["hset", "hdel", "hincrby"]),
                          st.lists(st.tuples(_FIELDS, _VALUES), min_size=1,
                                   max_size=3)),
                max_size=25))
def test_family_matches_a_model(ops):
    """Random HSET/HDEL/HINCRBY sequences leave the same fields, order,
    length and encoding as a model of Redis's rules."""
    srv = Harness()
    srv("CONFIG", "SET", "hash-max-listpack-entries", "4",
        "hash-max-listpack-value", "5")
    model = HashModel(4, 5)
    for op, pairs in ops:
        if op == "hset":
            args = [x for pair in pairs for x in pair]
            assert srv("HSET", "h", *args) == len(
                {f for f, _ in pairs} - set(model.fields))
            model.write(pairs)
        elif op == "hdel":
            fields = [f for f, _ in pairs]
            assert srv("HDEL", "h", *fields) == len(
                set(fields) & set(model.fields))
            for field in fields:
                model.fields.pop(field, None)
            if not model.fields:
                model = HashModel(4, 5)
        else:
            field = pairs[0][0]
            current = model.fields.get(field, b"0")
            reply = srv("HINCRBY", "h", field, "3")
            if current.lstrip(b"-").isdigit():
                assert reply == int(current) + 3
                model.write([(field, b"%d" % (int(current) + 3))],
                            check_all=False)
            else:
                assert reply == ReplyError("ERR hash value is not an integer")
                if not model.fields:    # created empty: cannot happen
                    model = HashModel(4, 5)
        assert srv("HGETALL", "h") == list(model.fields.items())
        if model.fields:
            assert srv("HLEN", "h") == len(model.fields)
            expected = b"listpack" if model.listpack else b"hashtable"
            assert encoding(srv, "h") == expected
        else:
            assert srv("EXISTS", "h") == 0


def test_hash_value_is_a_registered_type():
    """The value class is a dict with Redis's type name, copied deeply."""
    from redisrepl.keyspace import copy_value, type_name, value_encoding
    h = Hash({b"a": b"1"})
    assert type_name(h) == b"hash"
    assert value_encoding(h) == b"listpack"
    h.listpack = False
    dup = copy_value(h)
    assert dup == h and dup is not h and not dup.listpack

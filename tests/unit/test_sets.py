"""The set family: encodings, replies, signals, notifications, dirty counts
and what each command propagates (Redis 7.0's t_set.c)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.ctext import string2ll
from redisrepl.resp.values import ReplyError, Set
from redisrepl.settype import RedisSet
from tests.unit.harness import Harness


@pytest.fixture
def events(srv):
    """The keyspace notifications sent, as (event, key) pairs."""
    sent = []
    srv.server.notify = lambda cls, event, key, db_id: sent.append((event, key))
    return sent


def encoding(srv, key):
    return srv("OBJECT", "ENCODING", key)


def members(srv, key):
    return sorted(srv("SMEMBERS", key))


# -- encodings -------------------------------------------------------------------


def test_integer_members_make_an_intset_replied_in_numeric_order(srv):
    """An all-integer set is an intset and SMEMBERS lists it sorted."""
    assert srv("SADD", "s", "10", "-3", "2", "10") == 3
    assert encoding(srv, "s") == b"intset"
    assert srv("SMEMBERS", "s") == [b"-3", b"2", b"10"]
    assert type(srv("SMEMBERS", "s")) is Set


@pytest.mark.parametrize("member", [
    "a", "007", "+1", " 1", "-0", "1.5", "9223372036854775808",
    "-9223372036854775809", ""])
def test_a_non_canonical_integer_converts_to_a_hashtable(srv, member):
    """Only canonical int64 text stays in an intset (string2ll's rule)."""
    srv("SADD", "s", "1")
    srv("SADD", "s", member)
    assert encoding(srv, "s") == b"hashtable"
    assert srv("SISMEMBER", "s", member) == 1


def test_int64_bounds_stay_in_the_intset(srv):
    """The extreme int64 values are integers to the intset."""
    srv("SADD", "s", "9223372036854775807", "-9223372036854775808")
    assert encoding(srv, "s") == b"intset"
    assert srv("SMEMBERS", "s") == [b"-9223372036854775808",
                                    b"9223372036854775807"]


def test_the_hashtable_encoding_is_sticky(srv):
    """Removing the non-integer members does not make an intset again."""
    srv("SADD", "s", "1", "x")
    srv("SREM", "s", "x")
    assert encoding(srv, "s") == b"hashtable"


def test_set_max_intset_entries_is_the_conversion_threshold(srv):
    """A set converts when it passes set-max-intset-entries members."""
    srv("CONFIG", "SET", "set-max-intset-entries", "3")
    srv("SADD", "s", "1", "2", "3")
    assert encoding(srv, "s") == b"intset"
    srv("SADD", "s", "4")
    assert encoding(srv, "s") == b"hashtable"
    srv("SREM", "s", "4")
    assert encoding(srv, "s") == b"hashtable"


def test_intset_membership_parses_the_member(srv):
    """SISMEMBER on an intset matches the canonical form only."""
    srv("SADD", "s", "3")
    assert srv("SISMEMBER", "s", "3") == 1
    assert srv("SISMEMBER", "s", "03") == 0
    assert srv("SISMEMBER", "s", "x") == 0
    assert srv("SMISMEMBER", "s", "3", "4", "03") == [1, 0, 0]


# -- SADD / SREM -----------------------------------------------------------------


def test_sadd_counts_new_members_and_bumps_dirty_by_them(srv, events):
    """SADD replies the new members, dirty grows by as many, one event."""
    dirty = srv.server.dirty
    assert srv("SADD", "s", "a", "b", "a") == 2
    assert srv.server.dirty == dirty + 2
    assert events == [(b"sadd", b"s")]
    assert srv.propagated == [[b"SADD", b"s", b"a", b"b", b"a"]]


def test_sadd_of_existing_members_changes_nothing(srv, events):
    """No new member: no event, no dirty, nothing propagated, no WATCH hit."""
    srv("SADD", "s", "a")
    watcher = srv.new_client()
    srv("WATCH", "s", client=watcher)
    del events[:]
    before = list(srv.propagated)
    assert srv("SADD", "s", "a") == 0
    assert events == [] and srv.propagated == before
    assert watcher.dirty_cas is False


def test_sadd_to_an_existing_set_flags_watchers(srv):
    """A member added in place signals the key as modified."""
    srv("SADD", "s", "a")
    watcher = srv.new_client()
    srv("WATCH", "s", client=watcher)
    srv("SADD", "s", "b")
    assert watcher.dirty_cas is True


def test_wrong_type_is_refused_and_changes_nothing(srv):
    """Every set command on a string replies WRONGTYPE."""
    srv("SET", "str", "v")
    for args in (("SADD", "str", "a"), ("SREM", "str", "a"),
                 ("SCARD", "str"), ("SMEMBERS", "str"), ("SPOP", "str"),
                 ("SPOP", "str", "2"), ("SRANDMEMBER", "str", "2"),
                 ("SINTER", "missing", "str"), ("SSCAN", "str", "0"),
                 ("SMOVE", "str", "d", "a"), ("SUNIONSTORE", "d", "str")):
        reply = srv(*args)
        assert isinstance(reply, ReplyError), args
        assert reply.message.startswith(b"WRONGTYPE"), args
    assert srv("GET", "str") == b"v"
    assert srv("EXISTS", "d") == 0


def test_srem_deletes_the_emptied_key_with_a_del_event(srv, events):
    """SREM that empties the set deletes it and emits srem then del."""
    srv("SADD", "s", "a", "b")
    del events[:]
    assert srv("SREM", "s", "a", "b", "c") == 2
    assert srv("EXISTS", "s") == 0
    assert events == [(b"srem", b"s"), (b"del", b"s")]


def test_srem_of_absent_members_is_not_propagated(srv):
    """Nothing removed: nothing propagated."""
    srv("SADD", "s", "a")
    assert srv("SREM", "s", "x") == 0
    assert srv("SREM", "missing", "x") == 0
    assert srv.propagated == [[b"SADD", b"s", b"a"]]


# -- SMOVE -----------------------------------------------------------------------


def test_smove_moves_and_creates_the_destination(srv, events):
    """The member leaves the source (deleted when empty) for a new set."""
    srv("SADD", "src", "1")
    del events[:]
    dirty = srv.server.dirty
    assert srv("SMOVE", "src", "dst", "1") == 1
    assert srv("EXISTS", "src") == 0
    assert srv("SMEMBERS", "dst") == [b"1"]
    assert encoding(srv, "dst") == b"intset"
    assert events == [(b"srem", b"src"), (b"del", b"src"), (b"sadd", b"dst")]
    assert srv.server.dirty == dirty + 2


def test_smove_to_a_set_already_holding_the_member(srv, events):
    """Only the removal counts: dirty +1, no sadd event."""
    srv("SADD", "src", "a", "b")
    srv("SADD", "dst", "a")
    del events[:]
    dirty = srv.server.dirty
    assert srv("SMOVE", "src", "dst", "a") == 1
    assert srv.server.dirty == dirty + 1
    assert events == [(b"srem", b"src")]


def test_smove_edge_cases(srv):
    """Missing source is 0 even before checking the destination's type;
    same source and destination only tests membership."""
    srv("SET", "str", "v")
    assert srv("SMOVE", "missing", "str", "a") == 0
    srv("SADD", "s", "a")
    assert srv("SMOVE", "s", "s", "a") == 1
    assert srv("SMOVE", "s", "s", "z") == 0
    assert srv("SMOVE", "s", "d", "z") == 0
    assert srv.propagated[-1] == [b"SADD", b"s", b"a"]


# -- SPOP ------------------------------------------------------------------------


def test_spop_is_propagated_as_srem_of_the_popped_member(srv, events):
    """SPOP key becomes SREM key member; emptying emits del."""
    srv("SADD", "s", "only")
    del events[:]
    assert srv("SPOP", "s") == b"only"
    assert srv.propagated[-1] == [b"SREM", b"s", b"only"]
    assert events == [(b"spop", b"s"), (b"del", b"s")]
    assert srv("SPOP", "s") is None


def test_spop_count_propagates_one_srem_per_member_in_a_transaction(srv):
    """A few popped members: SREM each, wrapped in MULTI/EXEC."""
    srv("SADD", "s", *range(20))
    dirty = srv.server.dirty
    popped = srv("SPOP", "s", "3")
    assert type(popped) is Set and len(set(popped)) == 3
    assert srv.server.dirty == dirty + 3
    ops = srv.propagated[1:]
    assert ops[0] == [b"MULTI"] and ops[-1] == [b"EXEC"]
    assert ops[1:-1] == [[b"SREM", b"s", m] for m in popped]
    assert srv("SCARD", "s") == 17
    assert not set(popped) & set(srv("SMEMBERS", "s"))


def test_spop_count_inside_exec_joins_the_one_transaction(srv):
    """SREMs and DELs of SPOPs in EXEC go out in EXEC's MULTI block."""
    srv("SADD", "s", *range(10))
    srv("SADD", "t", "a")
    srv("MULTI")
    srv("SPOP", "s", "2")
    srv("SPOP", "t", "3")
    first, second = srv("EXEC")
    ops = srv.propagated[2:]
    assert ops == [[b"MULTI"]] + [[b"SREM", b"s", m] for m in first] + \
        [[b"DEL", b"t"], [b"EXEC"]]
    assert second == [b"a"]


def test_spop_count_of_most_members_rebuilds_the_rest(srv):
    """Popping most of a big set keeps the rest as a new set: a hashtable
    of few integers becomes an intset again; the TTL stays."""
    srv("SADD", "s", *range(600))
    srv("EXPIRE", "s", "100")
    assert encoding(srv, "s") == b"hashtable"
    popped = srv("SPOP", "s", "598")
    assert len(set(popped)) == 598
    assert encoding(srv, "s") == b"intset"
    assert srv("SCARD", "s") == 2
    assert srv("TTL", "s") == 100
    remaining = set(srv("SMEMBERS", "s"))
    assert remaining | set(popped) == {b"%d" % i for i in range(600)}
    srems = [op for op in srv.propagated if op[0] == b"SREM"]
    assert sorted(op[2] for op in srems) == sorted(popped)


def test_spop_count_of_the_whole_set_is_propagated_as_del(srv, events):
    """count >= size: the set is replied, deleted, propagated as DEL."""
    srv("SADD", "s", "3", "1", "2")
    del events[:]
    dirty = srv.server.dirty
    assert srv("SPOP", "s", "10") == [b"1", b"2", b"3"]
    assert srv("EXISTS", "s") == 0
    assert srv.propagated[-1] == [b"DEL", b"s"]
    assert events == [(b"spop", b"s"), (b"del", b"s")]
    assert srv.server.dirty == dirty + 1


def test_spop_of_the_whole_set_uses_unlink_with_lazy_server_del(srv):
    """lazyfree-lazy-server-del turns the DEL into UNLINK."""
    srv("CONFIG", "SET", "lazyfree-lazy-server-del", "yes")
    srv("SADD", "s", "a")
    srv("SPOP", "s", "1")
    assert srv.propagated[-1] == [b"UNLINK", b"s"]


def test_spop_count_argument_errors_come_before_the_lookup(srv):
    """A bad count is reported even for a missing or wrong-type key;
    count 0 and a missing key reply an empty set and change nothing."""
    srv("SET", "str", "v")
    for count in ("-1", "abc", "99999999999999999999"):
        reply = srv("SPOP", "str", count)
        assert reply.message == b"ERR value is out of range, must be positive"
    srv("SADD", "s", "a")
    assert srv("SPOP", "s", "0") == []
    assert srv("SPOP", "missing", "2") == []
    assert srv("SPOP", "s", "1", "2").message == b"ERR syntax error"
    assert srv.propagated[-1] == [b"SADD", b"s", b"a"]


def test_spop_of_the_whole_set_counts_a_keyspace_hit(srv):
    """Redis replies through SUNION's code, which does a counted read."""
    srv("SADD", "s", "a")
    hits = srv.server.keyspace.hits
    srv("SPOP", "s", "5")
    assert srv.server.keyspace.hits == hits + 1


# -- SRANDMEMBER -----------------------------------------------------------------


def test_srandmember_count_forms(srv):
    """Positive: distinct members (all when count >= size); negative:
    exactly -count picks, repeats allowed; replies are arrays."""
    srv("SADD", "s", *range(10))
    every = {b"%d" % i for i in range(10)}
    for count in (1, 3, 4, 9):
        reply = srv("SRANDMEMBER", "s", str(count))
        assert type(reply) is list
        assert len(reply) == len(set(reply)) == count
        assert set(reply) <= every
    assert srv("SRANDMEMBER", "s", "10") == sorted(every, key=int)
    many = srv("SRANDMEMBER", "s", "-50")
    assert len(many) == 50 and set(many) <= every
    assert srv("SRANDMEMBER", "s") in every
    assert srv("SRANDMEMBER", "s", "0") == []
    assert srv("SRANDMEMBER", "missing", "-3") == []
    assert srv("SRANDMEMBER", "missing") is None
    assert srv("SCARD", "s") == 10


def test_srandmember_rejects_the_one_unnegatable_count(srv):
    """LONG_MIN cannot be negated: Redis's range error."""
    srv("SADD", "s", "a")
    reply = srv("SRANDMEMBER", "s", "-9223372036854775808")
    assert b"must between -9223372036854775807" in reply.message


def test_random_picks_reach_every_member_of_a_hashtable(srv):
    """Picks over a hashtable that shrank and grew still cover it all."""
    srv("SADD", "s", *[f"m{i}" for i in range(100)])
    srv("SRANDMEMBER", "s")
    srv("SREM", "s", *[f"m{i}" for i in range(90)])
    srv("SADD", "s", "new")
    seen = set(srv("SRANDMEMBER", "s", "-2000"))
    assert seen == set(srv("SMEMBERS", "s"))


# -- SINTER / SUNION / SDIFF and their STORE forms -------------------------------------


def test_set_algebra(srv):
    """Intersections, unions and differences, missing keys empty."""
    srv("SADD", "a", "1", "2", "3", "x")
    srv("SADD", "b", "2", "3", "4")
    assert sorted(srv("SINTER", "a", "b")) == [b"2", b"3"]
    assert srv("SINTER", "a", "missing") == []
    assert sorted(srv("SUNION", "a", "b", "missing")) == \
        [b"1", b"2", b"3", b"4", b"x"]
    assert sorted(srv("SDIFF", "a", "b")) == [b"1", b"x"]
    assert srv("SDIFF", "a", "a") == []
    assert srv("SDIFF", "missing", "a") == []
    assert srv("SINTERCARD", "2", "a", "b") == 2
    assert srv("SINTERCARD", "2", "a", "b", "LIMIT", "1") == 1
    assert srv("SINTERCARD", "2", "a", "missing") == 0


def test_all_integer_results_are_intsets_in_numeric_order(srv):
    """SUNION builds an intset when it can, so its reply is sorted."""
    srv("SADD", "a", "30", "x")
    srv("SREM", "a", "x")
    srv("SADD", "b", "2", "10")
    assert srv("SUNION", "a", "b") == [b"2", b"10", b"30"]
    srv("SUNIONSTORE", "u", "a", "b")
    assert encoding(srv, "u") == b"intset"


def test_store_replaces_the_destination_and_drops_its_ttl(srv, events):
    """SINTERSTORE overwrites any value, TTL dropped, one event."""
    srv("SADD", "a", "1", "2")
    srv("SET", "d", "v", "EX", "100")
    del events[:]
    assert srv("SINTERSTORE", "d", "a", "a") == 2
    assert srv("TTL", "d") == -1
    assert members(srv, "d") == [b"1", b"2"]
    assert events == [(b"sinterstore", b"d")]


def test_store_of_an_empty_result_deletes_the_destination(srv, events):
    """Empty result: the destination goes, with a del event; when it was
    already missing, nothing changes and nothing is propagated."""
    srv("SADD", "a", "1")
    srv("SADD", "d", "old")
    del events[:]
    assert srv("SDIFFSTORE", "d", "a", "a") == 0
    assert srv("EXISTS", "d") == 0
    assert events == [(b"del", b"d")]
    assert srv.propagated[-1] == [b"SDIFFSTORE", b"d", b"a", b"a"]
    before = list(srv.propagated)
    for store in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        assert srv(store, "d", "missing") == 0
    assert srv.propagated == before


def test_store_events_name_the_command(srv, events):
    """sunionstore and sdiffstore are the events of their commands."""
    srv("SADD", "a", "1", "2")
    del events[:]
    srv("SUNIONSTORE", "u", "a")
    srv("SDIFFSTORE", "v", "a")
    assert events == [(b"sunionstore", b"u"), (b"sdiffstore", b"v")]


def test_sdiff_second_algorithm_keeps_a_hashtable_result(srv):
    """When Redis adds the whole first set then removes (its cheaper
    algorithm for many small others), a non-intset first set leaves a
    hashtable even for an all-integer result."""
    srv("SADD", "hs", "1", "2", "3", "x")
    srv("SADD", "rm", "x")
    srv("SDIFFSTORE", "d1", "hs", "rm")
    assert encoding(srv, "d1") == b"intset"
    srv("SADD", "q1", "q")
    srv("SADD", "q2", "q")
    srv("SDIFFSTORE", "d2", "hs", "rm", "q1", "q2")
    assert encoding(srv, "d2") == b"hashtable"
    assert members(srv, "d2") == [b"1", b"2", b"3"]


def test_sintercard_argument_errors(srv):
    """numkeys, LIMIT and option errors in Redis's words."""
    srv("SADD", "a", "1")
    cases = {
        ("0", "a"): b"ERR numkeys should be greater than 0",
        ("x", "a"): b"ERR numkeys should be greater than 0",
        ("3", "a"): b"ERR Number of keys can't be greater than number of args",
        ("1", "a", "LIMIT", "-1"): b"ERR LIMIT can't be negative",
        ("1", "a", "LIMIT"): b"ERR syntax error",
        ("1", "a", "FOO"): b"ERR syntax error",
    }
    for args, message in cases.items():
        assert srv("SINTERCARD", *args).message == message


def test_a_wrong_type_anywhere_fails_even_after_a_missing_key(srv):
    """Redis 7.0 checks every key's type before giving an empty result."""
    srv("SET", "str", "v")
    for cmd in ("SINTER", "SUNION", "SDIFF"):
        assert srv(cmd, "missing", "str").message.startswith(b"WRONGTYPE")
    assert srv("SINTERSTORE", "d", "missing", "str").message.startswith(
        b"WRONGTYPE")


# -- SSCAN -----------------------------------------------------------------------


def test_sscan_of_an_intset_returns_everything_at_once(srv):
    """Compact encodings answer in one call with cursor 0."""
    srv("SADD", "s", "3", "1", "2")
    assert srv("SSCAN", "s", "0", "COUNT", "1") == [b"0", [b"1", b"2", b"3"]]
    assert srv("SSCAN", "s", "0", "MATCH", "[12]") == [b"0", [b"1", b"2"]]
    assert srv("SSCAN", "missing", "0", "COUNT", "0") == [b"0", []]
    assert srv("SSCAN", "s", "0", "COUNT", "0").message == b"ERR syntax error"
    assert srv("SSCAN", "s", "x").message == b"ERR invalid cursor"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 300)), max_size=200),
       st.integers(1, 20))
def test_sscan_returns_every_member_present_throughout(changes, count):
    """A full SSCAN iteration returns every member that was there for the
    whole iteration, while members come and go between calls."""
    srv = Harness()
    srv("SADD", "s", *[f"m{i}" for i in range(200)])
    steady = {f"m{i}".encode() for i in range(200)}
    seen = set()
    cursor = b"0"
    pending = list(changes)
    while True:
        cursor, found = srv("SSCAN", "s", cursor, "COUNT", str(count))
        seen.update(found)
        if cursor == b"0":
            break
        for add, n in pending[:5]:
            member = f"m{n}"
            srv("SADD" if add else "SREM", "s", member)
            steady.discard(member.encode())
        del pending[:5]
    assert steady <= seen


# -- the value class -------------------------------------------------------------------


_MEMBERS = st.one_of(
    st.integers(-(1 << 63), (1 << 63) - 1).map(lambda n: b"%d" % n),
    st.integers(-5, 40).map(lambda n: b"%d" % n),
    st.binary(max_size=4))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _MEMBERS), max_size=60),
       st.integers(0, 20))
def test_redisset_behaves_as_a_set_with_redis_encodings(ops, max_intset):
    """Adds and removes match a Python set; the encoding is intset exactly
    while every member ever added was an integer and the size never passed
    the limit; an intset iterates in numeric order."""
    value = RedisSet()
    model = set()
    converted = False
    for add, member in ops:
        if add:
            assert value.add(member, max_intset) == (member not in model)
            model.add(member)
            if string2ll(member) is None or len(model) > max_intset:
                converted = True
        else:
            assert value.remove(member) == (member in model)
            model.discard(member)
        assert len(value) == len(model)
    assert set(value) == model
    assert all(member in value for member in model)
    assert value.encoding == (b"hashtable" if converted else b"intset")
    if not converted:
        assert list(value) == sorted(model, key=int)


def test_copy_shares_nothing(srv):
    """COPY of a set is independent of the original."""
    srv("SADD", "s", "1", "x")
    srv("COPY", "s", "c")
    srv("SADD", "c", "y")
    assert members(srv, "s") == [b"1", b"x"]
    assert encoding(srv, "c") == b"hashtable"

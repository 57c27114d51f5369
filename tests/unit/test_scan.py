"""SCAN and the ScanIndex behind it: the cursor guarantee, options, filters."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redisrepl.commands.args import parse_scan_cursor
from redisrepl.resp.values import ReplyError
from redisrepl.scan import ScanIndex


def full_scan(index, count):
    """Every element one full iteration returns, and how many calls it took."""
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, found = index.scan(cursor, count)
        seen.extend(found)
        calls += 1
        if cursor == 0:
            return seen, calls


def scan_all(srv, *options):
    """Every key one full SCAN iteration returns (duplicates kept)."""
    cursor, seen = b"0", []
    while True:
        cursor, found = srv("SCAN", cursor, *options)
        seen.extend(found)
        if cursor == b"0":
            return seen


# -- ScanIndex -------------------------------------------------------------------


def test_index_returns_each_element_once_when_nothing_changes():
    """A quiet collection is scanned exactly once, in count-sized steps."""
    data = dict.fromkeys(range(95))
    seen, calls = full_scan(ScanIndex(data), 10)
    assert sorted(seen) == list(range(95))
    assert calls == 10


def test_index_of_empty_collection_ends_at_once():
    """An empty collection answers cursor 0 and nothing."""
    assert ScanIndex({}).scan(0, 10) == (0, [])


def test_index_skips_removed_and_sees_added():
    """Removed elements are not returned; elements added ahead are."""
    data = dict.fromkeys(range(10))
    index = ScanIndex(data)
    cursor, first = index.scan(0, 5)
    assert first == [0, 1, 2, 3, 4]
    del data[7]
    data["new"] = None
    index.added("new")
    cursor, rest = index.scan(cursor, 100)
    assert rest == [5, 6, 8, 9, "new"]
    assert cursor == 0


def test_index_compacts_but_cursors_stay_valid():
    """After mass deletion the log shrinks, and an old cursor resumes right."""
    data = dict.fromkeys(range(1000))
    index = ScanIndex(data)
    cursor, first = index.scan(0, 500)
    for i in range(1000):
        if i % 10:
            del data[i]
    for i in range(2000, 2100):
        data[i] = None
        index.added(i)
    assert len(index._elements) < 1100   # compacted at least once
    seen = list(first)
    while cursor:
        cursor, found = index.scan(cursor, 50)
        seen.extend(found)
    assert set(range(500, 1000, 10)) <= set(seen)
    assert set(range(2000, 2100)) <= set(seen)


def test_index_bounds_stale_entries_skipped_per_call():
    """A long run of removed entries ends a call early with a live cursor."""
    data = dict.fromkeys(range(400))
    index = ScanIndex(data)
    for i in range(1, 200):
        del data[i]
    # 201 live of 400 entries: not sparse enough to compact.
    cursor, found = index.scan(0, 1)
    assert found == [0]
    cursor, found = index.scan(cursor, 1)
    assert found == [] and cursor != 0
    seen, _ = full_scan(index, 1)
    assert sorted(seen) == [0] + list(range(200, 400))


def test_index_random_returns_live_elements_only():
    """random() never returns a removed element, and None when empty."""
    data = dict.fromkeys(range(100))
    index = ScanIndex(data)
    for i in range(99):
        del data[i]
    assert {index.random() for _ in range(20)} == {99}
    del data[99]
    assert index.random() is None


class EagerIndex(ScanIndex):
    """Compacts as soon as stale entries outnumber live ones."""

    __slots__ = ()
    compact_slack = 0


changes = st.tuples(
    st.lists(st.integers(0, 80), max_size=8),     # keys to add
    st.lists(st.integers(0, 80), max_size=8))     # keys to remove


def apply(data, index, change):
    """Remove then add keys, telling the index about each new one."""
    adds, removes = change
    for key in removes:
        data.pop(key, None)
    for key in adds:
        if key not in data:
            data[key] = None
            index.added(key)


@settings(max_examples=300, deadline=None)
@given(
    index_class=st.sampled_from([ScanIndex, EagerIndex]),
    initial=st.sets(st.integers(0, 60), max_size=40),
    before=st.lists(changes, max_size=10),
    count=st.integers(1, 12),
    during=st.lists(changes, max_size=40),
)
def test_index_never_misses_an_element_present_throughout(
        index_class, initial, before, count, during):
    """Under random churn, every element present throughout is returned."""
    data = dict.fromkeys(initial)
    index = index_class(data)
    for change in before:
        apply(data, index, change)
    survivors = set(data)
    seen = set()
    cursor = 0
    step = iter(during)
    while True:
        cursor, found = index.scan(cursor, count)
        assert set(found) <= set(data)
        seen.update(found)
        if cursor == 0:
            break
        change = next(step, ((), ()))
        apply(data, index, change)
        survivors -= set(change[1])
    assert survivors <= seen


@given(st.integers(0, (1 << 64) - 1))
def test_cursor_round_trips(value):
    """Any unsigned 64-bit cursor parses back to itself."""
    assert parse_scan_cursor(b"%d" % value) == value


def test_cursor_parses_like_strtoul():
    """Cursors parse as strtoul reads them; spaces, junk, overflow refused."""
    assert parse_scan_cursor(b"") == 0
    assert parse_scan_cursor(b"+3") == 3
    assert parse_scan_cursor(b"007") == 7
    assert parse_scan_cursor(b"-0") == 0
    assert parse_scan_cursor(b"-1") == (1 << 64) - 1
    assert parse_scan_cursor(b"-18446744073709551615") == 1
    for bad in (b" 1", b"1 ", b"\t1", b"1x", b"0x10", b"-", b"+",
                b"18446744073709551616", b"-18446744073709551616"):
        with pytest.raises(ReplyError, match="ERR invalid cursor"):
            parse_scan_cursor(bad)


# -- the SCAN command -------------------------------------------------------------


def test_scan_returns_all_keys(srv):
    """A full SCAN returns every key once when nothing changes."""
    for i in range(57):
        srv("SET", f"k{i}", "v")
    keys = scan_all(srv)
    assert sorted(keys) == sorted(b"k%d" % i for i in range(57))


def test_scan_reply_shape_and_default_count(srv):
    """The cursor is a bulk string; COUNT defaults to 10."""
    for i in range(25):
        srv("SET", f"k{i}", "v")
    cursor, keys = srv("SCAN", "0")
    assert isinstance(cursor, bytes) and cursor != b"0"
    assert len(keys) == 10
    cursor, keys = srv("SCAN", "0", "COUNT", "100")
    assert cursor == b"0" and len(keys) == 25


def test_scan_on_empty_db(srv):
    """An empty database answers ["0", []]."""
    assert srv("SCAN", "0") == [b"0", []]


def test_scan_while_writing_misses_no_stable_key(srv):
    """Keys present throughout are returned while others come and go."""
    for i in range(100):
        srv("SET", f"stable{i}", "v")
    for i in range(50):
        srv("SET", f"churn{i}", "v")
    cursor, seen, n = b"0", set(), 0
    while True:
        cursor, found = srv("SCAN", cursor, "COUNT", "7")
        seen.update(found)
        if cursor == b"0":
            break
        srv("DEL", f"churn{n % 50}")
        srv("SET", f"new{n}", "v")
        n += 1
    assert {b"stable%d" % i for i in range(100)} <= seen


def test_scan_match_filters_after_fetching(srv):
    """MATCH filters the fetched keys: a step may come back empty."""
    for i in range(30):
        srv("SET", f"a{i}", "v")
    srv("SET", "zz", "v")
    cursor, keys = srv("SCAN", "0", "MATCH", "z*", "COUNT", "5")
    assert cursor != b"0" and keys == []
    assert sorted(scan_all(srv, "MATCH", "z*")) == [b"zz"]
    assert len(scan_all(srv, "MATCH", "*")) == 31


def test_scan_type_filter(srv):
    """TYPE keeps keys of that type, any case; an unknown type keeps none."""
    srv("SET", "s", "v")
    assert scan_all(srv, "TYPE", "string") == [b"s"]
    assert scan_all(srv, "TYPE", "STRING") == [b"s"]
    assert scan_all(srv, "TYPE", "list") == []
    assert scan_all(srv, "TYPE", "nosuchtype") == []


def test_scan_type_filter_counts_keyspace_hits(srv):
    """The TYPE filter is a counted lookup, as in Redis; plain SCAN is not."""
    srv("SET", "s", "v")
    ks = srv.server.keyspace
    hits = ks.hits
    srv("SCAN", "0")
    assert ks.hits == hits
    srv("SCAN", "0", "TYPE", "string")
    assert ks.hits == hits + 1


def test_scan_leaves_out_and_deletes_expired_keys(srv):
    """SCAN skips and reclaims expired keys, unless MATCH filtered them out."""
    srv("SET", "live", "v")
    srv("SET", "gone", "v", "PX", "10")
    srv("SET", "other", "v", "PX", "10")
    srv.advance(1)
    assert sorted(scan_all(srv, "MATCH", "[gl]*")) == [b"live"]
    assert b"gone" not in srv.db.data
    assert b"other" in srv.db.data
    assert [b"DEL", b"gone"] in srv.propagated


def test_scan_errors(srv):
    """Bad cursors, COUNT < 1, bad COUNT, unknown or incomplete options."""
    assert srv("SCAN", "1x") == ReplyError("ERR invalid cursor")
    assert srv("SCAN", " 1") == ReplyError("ERR invalid cursor")
    assert srv("SCAN", "18446744073709551616") == ReplyError(
        "ERR invalid cursor")
    assert srv("SCAN", "0", "COUNT", "0") == ReplyError("ERR syntax error")
    assert srv("SCAN", "0", "COUNT", "-1") == ReplyError("ERR syntax error")
    assert srv("SCAN", "0", "COUNT", "abc") == ReplyError(
        "ERR value is not an integer or out of range")
    assert srv("SCAN", "0", "MATCH") == ReplyError("ERR syntax error")
    assert srv("SCAN", "0", "FOO", "bar") == ReplyError("ERR syntax error")


def test_scan_accepts_odd_cursors(srv):
    """"" starts an iteration; a cursor past the end ends it."""
    srv("SET", "k", "v")
    assert srv("SCAN", "") == [b"0", [b"k"]]
    assert srv("SCAN", "-1") == [b"0", []]
    assert srv("SCAN", "+0") == [b"0", [b"k"]]


def test_scan_is_not_propagated(srv):
    """SCAN changes nothing: no dirty, no propagation."""
    srv("SET", "k", "v")
    dirty = srv.server.dirty
    before = list(srv.propagated)
    scan_all(srv)
    assert srv.server.dirty == dirty
    assert srv.propagated == before


def test_scan_reclaims_expired_keys_as_separate_dels(srv):
    """Keys SCAN reclaims propagate as single DELs, not one MULTI/EXEC."""
    for key in ("a", "b", "c"):
        srv("SET", key, "v", "PX", "10")
    srv.advance(1)
    before = len(srv.propagated)
    assert srv("SCAN", "0") == [b"0", []]
    assert sorted(srv.propagated[before:]) == [
        [b"DEL", b"a"], [b"DEL", b"b"], [b"DEL", b"c"]]

"""Streams: IDs, trimming, propagation, blocking reads, consumer groups."""

from hypothesis import given
from hypothesis import strategies as st

from redisrepl.blocking import BLOCKED
from redisrepl.commands.streams import parse_id
from redisrepl.resp.values import NULL_ARRAY, ReplyError
from redisrepl.stream import MAX_ID, Stream, format_id
from tests.unit.harness import EPOCH, Harness

NOW_MS = int(EPOCH * 1000)


def test_generated_id_uses_the_clock_and_never_goes_back(srv):
    """* is <now ms>-0, then seq+1 within the same ms or after a clock jump back."""
    assert srv("XADD", "s", "*", "f", "v") == b"%d-0" % NOW_MS
    assert srv("XADD", "s", "*", "f", "v") == b"%d-1" % NOW_MS
    srv("XADD", "s", "%d-5" % (NOW_MS + 10), "f", "v")
    assert srv("XADD", "s", "*", "f", "v") == b"%d-6" % (NOW_MS + 10)


def test_xadd_propagates_the_id_it_generated(srv):
    """XADD * and ms-* reach replicas with the concrete ID."""
    srv("XADD", "s", "*", "f", "v")
    srv("XADD", "s", "%d-*" % (NOW_MS + 1), "f", "v")
    srv("XADD", "s", "%d-7" % (NOW_MS + 2), "f", "v")
    assert srv.propagated == [
        [b"XADD", b"s", b"%d-0" % NOW_MS, b"f", b"v"],
        [b"XADD", b"s", b"%d-0" % (NOW_MS + 1), b"f", b"v"],
        [b"XADD", b"s", b"%d-7" % (NOW_MS + 2), b"f", b"v"],
    ]


def test_failed_xadd_changes_nothing_and_propagates_nothing(srv):
    """An ID not above the top item is refused; the key is untouched."""
    srv("XADD", "s", "5-5", "f", "v")
    assert isinstance(srv("XADD", "s", "5-5", "f", "v"), ReplyError)
    assert isinstance(srv("XADD", "s2", "0-0", "f", "v"), ReplyError)
    assert srv("EXISTS", "s2") == 0
    assert len(srv.propagated) == 1


def test_approximate_trim_is_propagated_as_an_exact_one(srv):
    """MAXLEN ~ n becomes MAXLEN = <length left>; MINID ~ becomes = <first id>."""
    srv("CONFIG", "SET", "stream-node-max-entries", "2")
    for i in range(1, 6):
        srv("XADD", "s", str(i), "f", "v")
    assert srv("XTRIM", "s", "MAXLEN", "~", "2") == 2
    assert srv.propagated[-1] == [b"XTRIM", b"s", b"MAXLEN", b"=", b"3"]
    srv("XADD", "s", "MINID", "~", "5", "6", "f", "v")
    assert srv.propagated[-1] == [b"XADD", b"s", b"MINID", b"=", b"5-0",
                                  b"6", b"f", b"v"]
    assert srv("XLEN", "s") == 2


def test_exact_trim_removes_entries_inside_a_node(srv):
    """MAXLEN without ~ trims to the exact length, oldest first."""
    for i in range(1, 6):
        srv("XADD", "s", str(i), "f", "v")
    assert srv("XTRIM", "s", "MAXLEN", "2") == 3
    assert [e[0] for e in srv("XRANGE", "s", "-", "+")] == [b"4-0", b"5-0"]
    assert srv.propagated[-1] == [b"XTRIM", b"s", b"MAXLEN", b"2"]


def test_trim_that_removes_nothing_is_not_propagated(srv):
    """XTRIM ~ that cannot drop a whole node is a no-op for replicas."""
    srv("XADD", "s", "1", "f", "v")
    srv("XADD", "s", "2", "f", "v")
    before = len(srv.propagated)
    assert srv("XTRIM", "s", "MAXLEN", "~", "0") == 2   # one whole node
    assert srv("XTRIM", "s", "MINID", "~", "9") == 0
    assert len(srv.propagated) == before + 1


def test_xdel_keeps_the_empty_stream_and_tracks_tombstones(srv):
    """Deleting every entry keeps the key; max-deleted-id and first id follow."""
    srv("XADD", "s", "1", "f", "v")
    srv("XADD", "s", "2", "f", "v")
    assert srv("XDEL", "s", "1", "3") == 1
    stream = srv.db.get(b"s")
    assert (stream.first_id, stream.max_deleted_id) == (2 << 64, 1 << 64)
    assert srv("XDEL", "s", "2") == 1
    assert srv("TYPE", "s") == b"stream"  # Status compares as bytes
    assert srv("XLEN", "s") == 0


def test_object_encoding_and_copy(srv):
    """OBJECT ENCODING says stream; COPY shares nothing with the source."""
    srv("XADD", "s", "1", "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    srv("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert srv("OBJECT", "ENCODING", "s") == b"stream"
    assert srv("COPY", "s", "t") == 1
    srv("XACK", "t", "g", "1")
    srv("XADD", "t", "2", "f", "v")
    assert srv("XLEN", "s") == 1
    assert srv("XPENDING", "s", "g")[0] == 1


# -- XREAD BLOCK -----------------------------------------------------------------

def test_xread_block_is_served_by_a_later_xadd(srv):
    """$ waits for entries added after the call; XADD from another client serves it."""
    srv("XADD", "s", "1", "old", "x")
    reader = srv.new_client()
    assert srv("XREAD", "BLOCK", "0", "STREAMS", "s", "$", client=reader) is BLOCKED
    srv("XADD", "s", "2", "new", "y")
    assert reader.conn.unblocked_with == [[b"s", [[b"2-0", [b"new", b"y"]]]]]


def test_xread_block_times_out_with_a_null_array(srv):
    """BLOCK ms times out on the injected clock with a nil reply."""
    reader = srv.new_client()
    srv("XREAD", "BLOCK", "1500", "STREAMS", "s", "$", client=reader)
    srv.advance(1.4)
    assert reader.conn.unblocked_with is None
    srv.advance(0.2)
    assert reader.conn.unblocked_with is NULL_ARRAY


def test_blocked_readers_are_all_served_in_order(srv):
    """Every XREAD waiting on the stream gets the new entry (reads consume nothing)."""
    a, b = srv.new_client(), srv.new_client()
    srv("XREAD", "BLOCK", "0", "STREAMS", "s", "$", client=a)
    srv("XREAD", "BLOCK", "0", "COUNT", "1", "STREAMS", "s", "$", client=b)
    srv("XADD", "s", "1", "f", "v")
    assert a.conn.unblocked_with == b.conn.unblocked_with \
        == [[b"s", [[b"1-0", [b"f", b"v"]]]]]
    assert len(srv.server.blocking) == 0


def test_xadd_inside_multi_serves_after_exec(srv):
    """A push from MULTI/EXEC serves the blocked reader once EXEC is done."""
    reader = srv.new_client()
    srv("XREAD", "BLOCK", "0", "STREAMS", "s", "$", client=reader)
    srv("MULTI")
    srv("XADD", "s", "1", "f", "v")
    assert reader.conn.unblocked_with is None
    srv("EXEC")
    assert reader.conn.unblocked_with == [[b"s", [[b"1-0", [b"f", b"v"]]]]]


def test_block_inside_exec_answers_nil_at_once(srv):
    """XREAD BLOCK in a transaction does not block."""
    srv("MULTI")
    srv("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert srv("EXEC") == [NULL_ARRAY]


def test_bad_block_timeouts(srv):
    """BLOCK takes integer milliseconds, not negative."""
    assert srv("XREAD", "BLOCK", "-1", "STREAMS", "s", "0").message == \
        b"ERR timeout is negative"
    assert srv("XREAD", "BLOCK", "1.5", "STREAMS", "s", "0").message == \
        b"ERR timeout is not an integer or out of range"


def test_blocked_xreadgroup_served_and_propagated_as_xclaim(srv):
    """A served XREADGROUP > records the PEL and propagates XCLAIM, not XREADGROUP."""
    srv("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    reader = srv.new_client()
    assert srv("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s",
               ">", client=reader) is BLOCKED
    srv("XADD", "s", "1", "f", "v")
    assert reader.conn.unblocked_with == [[b"s", [[b"1-0", [b"f", b"v"]]]]]
    assert srv.propagated[-1] == [
        b"XCLAIM", b"s", b"g", b"c", b"0", b"1-0", b"TIME", b"%d" % NOW_MS,
        b"RETRYCOUNT", b"1", b"FORCE", b"JUSTID", b"LASTID", b"1-0"]
    assert srv("XPENDING", "s", "g")[0] == 1


def test_destroying_the_group_unblocks_with_nogroup(srv):
    """XGROUP DESTROY wakes readers blocked on that group with -NOGROUP."""
    srv("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    reader = srv.new_client()
    srv("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">",
        client=reader)
    srv("XGROUP", "DESTROY", "s", "g")
    assert reader.conn.unblocked_with.message.startswith(b"NOGROUP")


# -- consumer groups -----------------------------------------------------------

def test_xreadgroup_propagates_xclaim_per_entry(srv):
    """Each delivered entry becomes an idempotent XCLAIM for replicas."""
    srv("XADD", "s", "1", "f", "v")
    srv("XADD", "s", "2", "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    before = len(srv.propagated)
    srv("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    ops = srv.propagated[before:]
    assert ops[0] == [b"MULTI"] and ops[-1] == [b"EXEC"]
    assert [op[5] for op in ops[1:-1]] == [b"1-0", b"2-0"]
    assert ops[2][-1] == b"2-0"


def test_noack_read_propagates_consumer_and_group_id(srv):
    """NOACK creates no PEL; replicas get CREATECONSUMER and SETID ENTRIESREAD."""
    srv("XADD", "s", "1", "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    before = len(srv.propagated)
    srv("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">")
    assert srv.propagated[before:] == [
        [b"MULTI"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"],
        [b"XGROUP", b"SETID", b"s", b"g", b"1-0", b"ENTRIESREAD", b"1"],
        [b"EXEC"]]
    assert srv("XPENDING", "s", "g")[0] == 0


def test_idle_times_come_from_the_clock(srv):
    """XPENDING idle and XCLAIM min-idle-time use the injected clock."""
    srv("XADD", "s", "1", "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    srv("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    srv.advance(2.5)
    assert srv("XPENDING", "s", "g", "-", "+", "10") == \
        [[b"1-0", b"alice", 2500, 1]]
    assert srv("XCLAIM", "s", "g", "bob", "3000", "1") == []
    assert srv("XCLAIM", "s", "g", "bob", "2000", "1", "JUSTID") == [b"1-0"]
    assert srv("XPENDING", "s", "g", "-", "+", "10") == [[b"1-0", b"bob", 0, 1]]
    consumers = srv("XINFO", "CONSUMERS", "s", "g")
    assert [dict(c)[b"idle"] for c in consumers] == [2500, 0]


def test_xclaim_of_a_deleted_entry_drops_it_everywhere(srv):
    """A pending entry no longer in the stream leaves the PEL, on replicas too."""
    srv("XADD", "s", "1", "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    srv("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    srv("XDEL", "s", "1")
    assert srv("XCLAIM", "s", "g", "bob", "0", "1") == []
    assert srv.propagated[-1][:6] == [b"XCLAIM", b"s", b"g", b"alice", b"0",
                                      b"1"]
    assert srv("XPENDING", "s", "g")[0] == 0


def test_xautoclaim_returns_cursor_claimed_and_deleted(srv):
    """XAUTOCLAIM walks the PEL with a cursor and reports vanished entries."""
    for i in (1, 2, 3):
        srv("XADD", "s", str(i), "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    srv("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    srv("XDEL", "s", "2")
    assert srv("XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "2",
               "JUSTID") == [b"3-0", [b"1-0"], [b"2-0"]]
    assert srv("XAUTOCLAIM", "s", "g", "bob", "0", "3", "JUSTID") == \
        [b"0-0", [b"3-0"], []]


def test_xack_is_propagated_only_when_it_acks(srv):
    """XACK of nothing pending changes nothing and reaches no replica."""
    srv("XADD", "s", "1", "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    srv("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    before = len(srv.propagated)
    assert srv("XACK", "s", "g", "9") == 0
    assert srv("XACK", "s", "g", "1") == 1
    assert srv.propagated[before:] == [[b"XACK", b"s", b"g", b"1"]]


def test_group_lag_counts_undelivered_entries(srv):
    """entries-read and lag follow deliveries; a tombstone ahead hides the lag."""
    for i in (1, 2, 3):
        srv("XADD", "s", str(i), "f", "v")
    srv("XGROUP", "CREATE", "s", "g", "0")
    srv("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    info = dict(srv("XINFO", "GROUPS", "s")[0])
    assert (info[b"entries-read"], info[b"lag"]) == (1, 2)
    srv("XDEL", "s", "3")
    assert dict(srv("XINFO", "GROUPS", "s")[0])[b"lag"] is None


def test_stream_write_signals_watchers(srv):
    """XADD to a watched stream aborts the watcher's transaction."""
    srv("XADD", "s", "1", "f", "v")
    other = srv.new_client()
    srv("WATCH", "s", client=other)
    srv("XADD", "s", "2", "f", "v")
    srv("MULTI", client=other)
    srv("XLEN", "s", client=other)
    assert srv("EXEC", client=other) is NULL_ARRAY


# -- properties -----------------------------------------------------------------

ids = st.integers(min_value=0, max_value=MAX_ID)


@given(ids)
def test_id_format_and_parse_round_trip(stream_id):
    """Every 128-bit ID prints as ms-seq and parses back to itself."""
    assert parse_id(format_id(stream_id)) == stream_id


@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1,
                max_size=60, unique=True),
       st.integers(min_value=0, max_value=60), st.booleans(),
       st.integers(min_value=1, max_value=7))
def test_trim_keeps_the_newest_entries(numbers, maxlen, approx, node_size):
    """MAXLEN trimming keeps a suffix: exactly maxlen, or whole nodes if ~."""
    stream = Stream()
    for n in sorted(numbers):
        stream.append(n << 64, [b"f", b"%d" % n], 4096, node_size)
    before = list(stream.entries)
    removed = stream.trim(maxlen=maxlen, approx=approx)
    after = list(stream.entries)
    assert after == before[removed:]
    if not approx:
        assert len(after) == min(maxlen, len(before))
    else:
        assert len(after) >= min(maxlen, len(before))
        assert len(after) - maxlen < node_size or len(after) <= maxlen
    assert sum(node.live for node in stream.nodes) == len(after)


def test_harness_epoch_is_what_ids_are_based_on():
    """The harness clock starts at EPOCH, the base of generated IDs."""
    assert Harness().server.now_ms() == NOW_MS

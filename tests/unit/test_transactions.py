"""MULTI EXEC DISCARD WATCH UNWATCH: replies, aborts, WATCH invalidation and
what a transaction propagates, as Redis 7.0 does them."""

import pytest

from redisrepl.commands.transactions import EXECABORT
from redisrepl.resp.encoder import encode, encode_resp3
from redisrepl.resp.values import NULL_ARRAY, OK, PONG, QUEUED, ReplyError
from tests.unit.harness import Harness


def err(reply):
    assert isinstance(reply, ReplyError), reply
    return reply.message


# -- MULTI / EXEC / DISCARD -----------------------------------------------------

def test_exec_runs_the_queue_in_order_and_returns_every_reply(srv):
    """Commands answer QUEUED, run at EXEC, and EXEC returns their replies."""
    assert srv("MULTI") is OK
    assert srv("SET", "k", "1") is QUEUED
    assert srv("INCR", "k") is QUEUED
    assert srv("GET", "k") is QUEUED
    assert srv.db.get(b"k") is None
    assert srv("EXEC") == [OK, 2, b"2"]
    assert srv.client.multi is None


def test_control_errors_have_redis_texts(srv):
    """EXEC/DISCARD without MULTI, nested MULTI and WATCH inside MULTI."""
    assert err(srv("EXEC")) == b"ERR EXEC without MULTI"
    assert err(srv("DISCARD")) == b"ERR DISCARD without MULTI"
    srv("MULTI")
    assert err(srv("MULTI")) == b"ERR MULTI calls can not be nested"
    assert err(srv("WATCH", "k")) == b"ERR WATCH inside MULTI is not allowed"


def test_nested_multi_and_watch_inside_multi_do_not_abort(srv):
    """Those two errors are replies of running commands, not queuing
    errors: the transaction still executes."""
    srv("MULTI")
    srv("MULTI")
    srv("WATCH", "k")
    srv("PING")
    assert srv("EXEC") == [PONG]


def test_queuing_error_aborts_with_execabort_and_discards(srv):
    """An unknown command or a wrong arity while queuing dooms EXEC."""
    srv("MULTI")
    srv("SET", "k", "v")
    assert err(srv("SET", "k")).startswith(b"ERR wrong number of arguments")
    assert srv("EXEC") == EXECABORT
    assert err(EXECABORT) == \
        b"EXECABORT Transaction discarded because of previous errors."
    assert srv.client.multi is None and not srv.client.multi_error
    assert srv.db.get(b"k") is None
    srv("MULTI")
    srv("NOSUCHCOMMAND")
    assert srv("EXEC") == EXECABORT


def test_runtime_errors_do_not_abort_the_rest(srv):
    """A command failing while EXEC runs gives its error in place."""
    srv("SET", "s", "abc")
    srv("MULTI")
    srv("INCR", "s")
    srv("SET", "t", "1")
    replies = srv("EXEC")
    assert err(replies[0]) == b"ERR value is not an integer or out of range"
    assert replies[1] is OK
    assert srv.db.get(b"t") == b"1"


def test_discard_drops_the_queue(srv):
    """DISCARD: OK, nothing runs, the client is out of MULTI."""
    srv("MULTI")
    srv("SET", "k", "v")
    assert srv("DISCARD") is OK
    assert srv.db.get(b"k") is None
    assert err(srv("EXEC")) == b"ERR EXEC without MULTI"


def test_empty_transaction_returns_an_empty_array(srv):
    """MULTI then EXEC at once: []."""
    srv("MULTI")
    assert srv("EXEC") == []


def test_no_multi_commands_are_refused_and_doom_the_transaction(srv):
    """Commands flagged no-multi (SHUTDOWN, SAVE...) are refused."""
    srv("MULTI")
    assert err(srv("SHUTDOWN")) == \
        b"ERR Command not allowed inside a transaction"
    assert srv("EXEC") == EXECABORT


def test_blocking_command_in_exec_answers_its_timeout_reply(srv):
    """Nothing blocks inside a transaction: BLPOP on nothing gives null."""
    srv("MULTI")
    srv("BLPOP", "nolist", "0")
    assert srv("EXEC") == [NULL_ARRAY]


def test_commands_run_in_exec_count_in_commandstats(srv):
    """Queued commands are counted when EXEC runs them, once."""
    srv("MULTI")
    srv("SET", "k", "v")
    srv("SET", "k", "w")
    srv("EXEC")
    table = srv.server.table
    assert table.commands["set"].calls == 2
    assert table.commands["exec"].calls == 1


def test_select_inside_exec_moves_the_client(srv):
    """SELECT queued in MULTI applies to the commands after it."""
    srv("MULTI")
    srv("SELECT", "2")
    srv("SET", "k", "v")
    srv("EXEC")
    assert srv.server.keyspace.dbs[2].get(b"k") == b"v"
    assert srv.client.db.id == 2


# -- protocol switch inside EXEC ------------------------------------------------

def test_hello_inside_exec_keeps_earlier_replies_in_the_old_protocol():
    """Replies made before HELLO 3 stay RESP2, later ones are RESP3, as the
    bytes Redis 7.0 writes: *4 $-1 %7... _ %1..."""
    srv = Harness()
    srv("MULTI")
    srv("GET", "missing")
    srv("HELLO", "3")
    srv("GET", "missing")
    srv("CONFIG", "GET", "maxmemory")
    wire = encode_resp3(srv("EXEC"))
    assert wire.startswith(b"*4\r\n$-1\r\n%7\r\n$6\r\nserver\r\n")
    assert wire.endswith(b"*0\r\n_\r\n%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n")


def test_hello_2_inside_exec_from_resp3():
    """And back: the HELLO 2 reply itself is already RESP2."""
    srv = Harness()
    srv("HELLO", "3")
    srv("MULTI")
    srv("GET", "missing")
    srv("HELLO", "2")
    srv("GET", "missing")
    wire = encode(srv("EXEC"))
    assert wire.startswith(b"*3\r\n_\r\n*14\r\n")
    assert wire.endswith(b"*0\r\n$-1\r\n")


# -- WATCH ----------------------------------------------------------------------

def test_watched_key_written_by_another_client_fails_exec(srv):
    """EXEC replies a null array and runs nothing; the watch is gone."""
    other = srv.new_client()
    assert srv("WATCH", "k") is OK
    srv("SET", "k", "1", client=other)
    srv("MULTI")
    srv("SET", "k", "mine")
    assert srv("EXEC") is NULL_ARRAY
    assert srv.db.get(b"k") == b"1"
    assert srv.client.watching == [] and srv.db.watched == {}
    # The next transaction is clean.
    srv("MULTI")
    srv("SET", "k", "mine")
    assert srv("EXEC") == [OK]


def test_own_write_before_multi_breaks_the_watch(srv):
    """Redis does not tell whose write it was."""
    srv("WATCH", "k")
    srv("SET", "k", "v")
    srv("MULTI")
    srv("PING")
    assert srv("EXEC") is NULL_ARRAY


def test_untouched_watch_lets_exec_run(srv):
    """Reads and writes to other keys leave the watch intact."""
    other = srv.new_client()
    srv("SET", "k", "v")
    srv("WATCH", "k", "k")
    srv("GET", "k", client=other)
    srv("SET", "other", "v", client=other)
    srv("SELECT", "1", client=other)
    srv("SET", "k", "elsewhere", client=other)
    srv("MULTI")
    srv("GET", "k")
    assert srv("EXEC") == [b"v"]


def test_unwatch_and_discard_forget_the_watch(srv):
    """After UNWATCH or DISCARD a later write no longer matters."""
    for forget in (("UNWATCH",), ("MULTI",), ):
        srv("WATCH", "k")
        srv(*forget)
        if forget == ("MULTI",):
            srv("DISCARD")
        srv("SET", "k", "x")
        srv("MULTI")
        srv("PING")
        assert srv("EXEC") == [PONG]
    assert srv.db.watched == {}


def _breaks_watch(setup, *write, key="k", other_db=0):
    srv = Harness()
    for command in setup:
        srv(*command)
    srv("SELECT", other_db)
    srv("WATCH", key)
    writer = srv.new_client()
    srv("SELECT", other_db, client=writer)
    srv(*write, client=writer)
    srv("MULTI")
    srv("PING")
    return srv("EXEC") is NULL_ARRAY


def test_every_kind_of_write_breaks_a_watch():
    """DEL, RENAME (both ends), MOVE, COPY, FLUSHDB, FLUSHALL, SWAPDB (either
    side), SET-family writes, counters, BITOP, an EXPIRE into the past."""
    has_k = [("SET", "k", "v")]
    cases = [
        (has_k, ("DEL", "k")),
        (has_k, ("UNLINK", "k")),
        (has_k, ("RENAME", "k", "j")),
        ([("SET", "j", "v")], ("RENAME", "j", "k")),
        (has_k, ("MOVE", "k", "3")),
        ([("SET", "j", "v")], ("COPY", "j", "k")),
        (has_k, ("FLUSHDB",)),
        (has_k, ("FLUSHALL",)),
        (has_k, ("SWAPDB", "0", "1")),
        ([("SELECT", "1"), ("SET", "k", "v"), ("SELECT", "0")],
         ("SWAPDB", "0", "1")),
        ([], ("SET", "k", "v")),
        ([], ("MSET", "k", "v")),
        (has_k, ("GETSET", "k", "w")),
        (has_k, ("GETDEL", "k")),
        ([], ("SETEX", "k", "10", "v")),
        ([("SET", "k", "1")], ("INCR", "k")),
        ([("SET", "k", "1")], ("INCRBYFLOAT", "k", "1.5")),
        ([], ("APPEND", "k", "x")),
        (has_k, ("APPEND", "k", "x")),      # bytes -> bytearray: re-stored
        ([], ("SETBIT", "k", "0", "1")),
        (has_k, ("BITOP", "NOT", "k", "k")),
        (has_k, ("PEXPIREAT", "k", "1")),
    ]
    unbroken = [write for setup, write in cases
                if not _breaks_watch(setup, *write)]
    assert unbroken == []


def test_in_place_edits_and_ttl_changes_break_a_watch():
    """APPEND/SETRANGE/SETBIT/BITFIELD on a grown string, EXPIRE, PERSIST and
    GETEX change the key: Redis's signalModifiedKey."""
    grown = [("SET", "k", "v"), ("APPEND", "k", "w")]
    volatile = [("SET", "k", "v", "EX", "100")]
    cases = [
        (grown, ("APPEND", "k", "x")),
        (grown, ("SETRANGE", "k", "0", "x")),
        (grown, ("SETBIT", "k", "0", "1")),
        (grown, ("BITFIELD", "k", "SET", "u8", "0", "255")),
        ([("SET", "k", "v")], ("EXPIRE", "k", "100")),
        ([("SET", "k", "v")], ("GETEX", "k", "EX", "100")),
        (volatile, ("PERSIST", "k")),
        (volatile, ("GETEX", "k", "PERSIST")),
    ]
    unbroken = [write for setup, write in cases
                if not _breaks_watch(setup, *write)]
    assert unbroken == []


def test_flush_of_an_absent_watched_key_leaves_the_watch():
    """FLUSHDB/FLUSHALL/SWAPDB touch only watched keys that exist."""
    assert not _breaks_watch([("SET", "other", "v")], "FLUSHDB")
    assert not _breaks_watch([("SET", "other", "v")], "FLUSHALL")
    assert not _breaks_watch([], "SWAPDB", "0", "1")


def test_watched_key_that_expires_after_watch_fails_exec(srv):
    """Even untouched (nobody looked it up), expiry after WATCH counts:
    Redis's isWatchedKeyExpired at EXEC."""
    srv.server.keyspace.active_expire_enabled = False
    srv("SET", "k", "v", "PX", "100")
    srv("WATCH", "k")
    srv.advance(1)
    assert b"k" in srv.db.data      # not deleted yet
    srv("MULTI")
    srv("PING")
    assert srv("EXEC") is NULL_ARRAY


def test_watched_key_expired_lazily_by_another_client_fails_exec(srv):
    """An expiry deletion is a modification."""
    other = srv.new_client()
    srv("SET", "k", "v", "PX", "100")
    srv("WATCH", "k")
    srv.advance(1)
    assert srv("GET", "k", client=other) is None
    srv("MULTI")
    srv("PING")
    assert srv("EXEC") is NULL_ARRAY


def test_key_already_expired_when_watched_does_not_fail_exec(srv):
    """Watching a logically expired key watches a missing key: EXEC runs."""
    srv.server.keyspace.active_expire_enabled = False
    srv("SET", "k", "v", "PX", "100")
    srv.advance(1)
    srv("WATCH", "k")
    srv("MULTI")
    srv("PING")
    assert srv("EXEC") == [PONG]


def test_key_already_expired_when_watched_then_set_fails_exec(srv):
    """Setting it is still a change."""
    other = srv.new_client()
    srv("SET", "k", "v", "PX", "100")
    srv.advance(1)
    srv("WATCH", "k")
    srv("SET", "k", "new", client=other)
    srv("MULTI")
    srv("PING")
    assert srv("EXEC") is NULL_ARRAY


def test_disconnect_drops_the_watches(srv):
    """A client that goes away leaves nothing in the WATCH registry."""
    client = srv.new_client()
    srv("WATCH", "a", "b", client=client)
    srv.server.remove_client(client)
    assert srv.db.watched == {}


def test_exec_under_client_pause_write_waits_when_a_write_is_queued(srv):
    """Redis holds EXEC during CLIENT PAUSE WRITE if the transaction
    queued a write, not if it only reads."""
    server = srv.server
    exec_cmd = server.table.commands["exec"]
    srv("MULTI")
    srv("GET", "k")
    srv("CLIENT", "PAUSE", "10000", "WRITE", client=srv.new_client())
    assert not server.is_paused_for(exec_cmd, srv.client)
    server.unpause()
    srv("SET", "k", "v")
    srv("CLIENT", "PAUSE", "10000", "WRITE", client=srv.new_client())
    assert server.is_paused_for(exec_cmd, srv.client)


# -- propagation ----------------------------------------------------------------

def test_exec_with_several_writes_propagates_one_multi_exec_block(srv):
    """MULTI, the writes (rewritten as usual), EXEC; reads are left out."""
    srv("MULTI")
    srv("SET", "a", "1")
    srv("GET", "a")
    srv("SET", "b", "2", "EX", "10")
    srv("SETRANGE", "a", "-1", "x")   # fails at run time: not propagated
    srv("EXEC")
    when = b"%d" % (srv.server.now_ms() + 10000)
    assert srv.propagated == [
        [b"MULTI"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2", b"PXAT", when],
        [b"EXEC"]]


def test_exec_with_one_write_propagates_it_bare(srv):
    """Redis 7.0 wraps only more than one op: a lone write goes as is."""
    srv("MULTI")
    srv("SET", "a", "1")
    srv("GET", "a")
    srv("EXEC")
    assert srv.propagated == [[b"SET", b"a", b"1"]]


def test_exec_with_only_reads_propagates_nothing(srv):
    """No write, nothing for replicas or the AOF."""
    srv("MULTI")
    srv("GET", "a")
    srv("PING")
    srv("EXEC")
    srv("MULTI")
    srv("DISCARD")
    assert srv.propagated == []


def test_failed_exec_propagates_nothing(srv):
    """A watch failure or an EXECABORT runs nothing."""
    srv("WATCH", "k")
    srv("SET", "k", "v", client=srv.new_client())
    srv("MULTI")
    srv("SET", "a", "1")
    srv("EXEC")
    srv("MULTI")
    srv("SET", "a")
    srv("EXEC")
    assert srv.propagated == [[b"SET", b"k", b"v"]]


def test_expiry_inside_exec_is_propagated_inside_the_block(srv):
    """A key expired by a queued command: its DEL joins the transaction,
    in order, as Redis 7.0 sends it."""
    srv("SET", "k", "v", "PX", "10")
    srv.advance(1)
    srv.recorder.ops.clear()
    srv("MULTI")
    srv("GET", "k")
    srv("SET", "z", "1")
    srv("EXEC")
    assert srv.propagated == [
        [b"MULTI"], [b"DEL", b"k"], [b"SET", b"z", b"1"], [b"EXEC"]]


@pytest.mark.xfail(strict=True, reason=(
    "the keyspace's WATCH registry keeps no per-watch 'expired' flag, so "
    "deleting a key that was already expired when watched flags the client "
    "(Redis 7.0's touchWatchedKey skips it): reported to the lead"))
def test_deleting_a_key_already_expired_when_watched_is_no_change(srv):
    """Another client's lookup expires it: logically nothing changed."""
    srv.server.keyspace.active_expire_enabled = False
    other = srv.new_client()
    srv("SET", "k", "v", "PX", "100")
    srv.advance(1)
    srv("WATCH", "k")
    assert srv("GET", "k", client=other) is None
    srv("MULTI")
    srv("PING")
    assert srv("EXEC") == [PONG]

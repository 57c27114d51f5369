"""BZPOPMIN, BZPOPMAX and BZMPOP with several clients: served at once or
by a later write (from a client, from MULTI/EXEC), first come first served,
timeouts, propagation in the non-blocking form, the pipeline held."""

import pytest

from redisrepl.resp.values import NULL_ARRAY, QUEUED, ReplyError
from tests.unit.harness import block, served
from tests.unit.test_protocol import connect


@pytest.mark.parametrize("args, reply, propagated", [
    (("BZPOPMIN", "none", "z", "0"), [b"z", b"a", 1.0], [b"ZPOPMIN", b"z"]),
    (("BZPOPMAX", "z", "0"), [b"z", b"c", 3.0], [b"ZPOPMAX", b"z"]),
    (("BZMPOP", "0", "2", "none", "z", "MAX", "COUNT", "2"),
     [b"z", [[b"c", 3.0], [b"b", 2.0]]], [b"ZPOPMAX", b"z", b"2"]),
    (("BZMPOP", "0", "1", "z", "MIN", "COUNT", "10"),
     [b"z", [[b"a", 1.0], [b"b", 2.0], [b"c", 3.0]]],
     [b"ZPOPMIN", b"z", b"3"]),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_a_filled_key_is_served_at_once_and_propagated_non_blocking(
        srv, args, reply, propagated):
    """With elements there the command pops at once and is propagated as
    ZPOPMIN/ZPOPMAX, BZMPOP with the count actually popped."""
    srv("ZADD", "z", "1", "a", "2", "b", "3", "c")
    srv.recorder.ops.clear()
    assert srv(*args) == reply
    assert srv.propagated == [propagated]


def test_bzpopmin_is_served_by_a_zadd_from_another_client(srv):
    """The waiter gets [key, member, score]; ZADD then ZPOPMIN propagate."""
    waiter = block(srv, "BZPOPMIN", "q", "0")
    assert served(waiter) is None
    assert srv("ZADD", "q", "2", "b", "1", "a") == 2
    assert served(waiter) == [b"q", b"a", 1.0]
    assert srv("ZRANGE", "q", "0", "-1") == [b"b"]
    assert srv.propagated == [[b"ZADD", b"q", b"2", b"b", b"1", b"a"],
                              [b"ZPOPMIN", b"q"]]
    assert len(srv.server.blocking) == 0


def test_bzmpop_served_later_propagates_the_count_popped(srv):
    """A served BZMPOP pops min(count, size) and propagates that count."""
    waiter = block(srv, "BZMPOP", "0", "2", "x", "q", "MAX", "COUNT", "5")
    srv("ZADD", "q", "1", "a", "2", "b")
    assert served(waiter) == [b"q", [[b"b", 2.0], [b"a", 1.0]]]
    assert srv.propagated[-1] == [b"ZPOPMAX", b"q", b"2"]
    assert srv("EXISTS", "q") == 0


def test_clients_are_served_first_come_first_served(srv):
    """One element serves the first waiter only; the next write serves the
    second."""
    first = block(srv, "BZPOPMIN", "q", "0")
    second = block(srv, "BZPOPMAX", "q", "0")
    srv("ZADD", "q", "1", "a")
    assert served(first) == [b"q", b"a", 1.0]
    assert served(second) is None
    srv("ZADD", "q", "5", "e", "6", "f")
    assert served(second) == [b"q", b"f", 6.0]
    assert srv("ZRANGE", "q", "0", "-1") == [b"e"]


def test_a_waiter_on_several_keys_takes_the_one_filled(srv):
    """A client blocked on two keys is served from the one written."""
    waiter = block(srv, "BZPOPMIN", "k1", "k2", "0")
    srv("ZADD", "k2", "7", "m")
    assert served(waiter) == [b"k2", b"m", 7.0]


def test_timeouts_reply_a_null_array(srv):
    """A fractional timeout expires on the clock with a null array."""
    waiter = block(srv, "BZPOPMIN", "q", "1.5")
    srv.advance(1.4)
    assert served(waiter) is None
    srv.advance(0.2)
    assert served(waiter) is NULL_ARRAY
    other = block(srv, "BZMPOP", "0.25", "1", "q", "MIN")
    srv.advance(0.3)
    assert served(other) is NULL_ARRAY
    assert len(srv.server.blocking) == 0


def test_a_zadd_inside_multi_serves_after_exec(srv):
    """A ZADD queued in MULTI serves the waiter once EXEC has run; the
    served pop is propagated after the transaction."""
    waiter = block(srv, "BZPOPMAX", "q", "0")
    srv("MULTI")
    assert srv("ZADD", "q", "1", "a") is QUEUED
    assert srv("ZADD", "q", "2", "b") is QUEUED
    assert served(waiter) is None
    assert srv("EXEC") == [1, 1]
    assert served(waiter) == [b"q", b"b", 2.0]
    assert srv.propagated == [
        [b"MULTI"], [b"ZADD", b"q", b"1", b"a"], [b"ZADD", b"q", b"2", b"b"],
        [b"EXEC"], [b"ZPOPMAX", b"q"]]


def test_blocking_pops_inside_multi_answer_at_once(srv):
    """In a transaction an empty key gives the timeout reply, no block."""
    srv("MULTI")
    srv("BZPOPMIN", "q", "0")
    srv("BZMPOP", "0", "1", "q", "MIN")
    assert srv("EXEC") == [NULL_ARRAY, NULL_ARRAY]


def test_a_zunionstore_into_the_awaited_key_serves(srv):
    """A key created by ZUNIONSTORE is ready too, as Redis's dbAdd."""
    srv("ZADD", "src", "3", "m")
    waiter = block(srv, "BZPOPMIN", "dst", "0")
    srv("ZUNIONSTORE", "dst", "1", "src")
    assert served(waiter) == [b"dst", b"m", 3.0]


def test_a_key_refilled_with_another_type_does_not_serve(srv):
    """A waiter offered a key now holding a string keeps waiting."""
    waiter = block(srv, "BZPOPMIN", "q", "0")
    srv.db.set(b"q", b"string")
    srv.db.signal_ready(b"q")
    srv.server.blocking.serve_ready()
    assert served(waiter) is None


def test_served_pop_emits_its_events(srv):
    """Serving emits "zpopmin" and "del" for the emptied key."""
    srv("CONFIG", "SET", "notify-keyspace-events", "KEA")
    events = []
    srv.server.pubsub.notify = lambda cls, event, key, db: events.append(
        (event, key))
    block(srv, "BZPOPMIN", "q", "0")
    srv("ZADD", "q", "1", "a")
    assert events == [(b"zadd", b"q"), (b"zpopmin", b"q"), (b"del", b"q")]


@pytest.mark.parametrize("args, error", [
    (("BZPOPMIN", "q", "abc"), "ERR timeout is not a float or out of range"),
    (("BZPOPMIN", "q", "-1"), "ERR timeout is negative"),
    (("BZPOPMIN", "q", "inf"), "ERR timeout is negative"),
    (("BZMPOP", "0", "0", "q", "MIN"), "ERR numkeys should be greater than 0"),
    (("BZMPOP", "x", "1", "q", "MIN"),
     "ERR timeout is not a float or out of range"),
    (("BZMPOP", "0", "1", "q", "MIDDLE"), "ERR syntax error"),
    (("BZMPOP", "0", "1", "q", "MIN", "COUNT", "0"),
     "ERR count should be greater than 0"),
    (("BZPOPMIN", "s", "0"),
     "WRONGTYPE Operation against a key holding the wrong kind of value"),
])
def test_errors_do_not_block(srv, args, error):
    """Bad timeouts, options and types reply an error instead of blocking."""
    srv("SET", "s", "v")
    assert srv(*args) == ReplyError(error)
    assert len(srv.server.blocking) == 0


def test_blocked_bzpopmin_holds_the_pipeline_until_served(srv):
    """At protocol level the reply comes when a write serves it, and the
    rest of the pipeline runs after it."""
    proto, transport = connect(srv)
    proto.dataReceived(b"BZPOPMIN q 0\r\nPING\r\n")
    assert transport.value() == b""
    srv("ZADD", "q", "1.5", "a")
    assert transport.value() == b"*3\r\n$1\r\nq\r\n$1\r\na\r\n$3\r\n1.5\r\n"
    srv.advance(0)
    assert transport.value().endswith(b"+PONG\r\n")

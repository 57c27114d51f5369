"""Blocking list pops with several clients: FIFO service, timeouts, pushes
from clients and from MULTI/EXEC, propagation in the non-blocking form,
and the connection holding its pipeline while blocked."""

import pytest

from redisrepl import errors
from redisrepl.resp.values import NULL_ARRAY, QUEUED
from tests.unit.harness import block, served
from tests.unit.test_protocol import connect

# -- immediate service: the non-blocking form -----------------------------------

@pytest.mark.parametrize("args, reply, propagated", [
    (("BLPOP", "none", "l", "0"), [b"l", b"a"], [b"LPOP", b"l"]),
    (("BRPOP", "l", "0"), [b"l", b"c"], [b"RPOP", b"l"]),
    (("BLMPOP", "0", "2", "none", "l", "RIGHT", "COUNT", "2"),
     [b"l", [b"c", b"b"]], [b"RPOP", b"l", b"2"]),
    (("BLMOVE", "l", "d", "right", "Left", "0"), b"c",
     [b"LMOVE", b"l", b"d", b"right", b"Left"]),
    (("BRPOPLPUSH", "l", "d", "0"), b"c", [b"RPOPLPUSH", b"l", b"d"]),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_a_filled_key_is_served_at_once_and_propagated_non_blocking(
        srv, args, reply, propagated):
    """With elements there the command runs as its non-blocking form and is
    propagated as that form (Redis 7.0's rewriteClientCommandVector)."""
    srv("RPUSH", "l", "a", "b", "c")
    srv.recorder.ops.clear()
    assert srv(*args) == reply
    assert srv.propagated == [propagated]


# -- served by a push ----------------------------------------------------------

def test_blpop_is_served_by_a_push_from_another_client(srv):
    """The blocked client gets [key, element]; the push and then the pop
    are propagated, the pop as LPOP."""
    waiter = block(srv, "BLPOP", "q", "0")
    assert served(waiter) is None
    assert srv("RPUSH", "q", "x", "y") == 2
    assert served(waiter) == [b"q", b"x"]
    assert srv("LRANGE", "q", "0", "-1") == [b"y"]
    assert srv.propagated == [[b"RPUSH", b"q", b"x", b"y"], [b"LPOP", b"q"]]
    assert len(srv.server.blocking) == 0


def test_clients_are_served_first_come_first_served(srv):
    """One element serves the client that blocked first; the next push
    serves the next one."""
    first = block(srv, "BLPOP", "q", "0")
    second = block(srv, "BRPOP", "q", "0")
    srv("RPUSH", "q", "one")
    assert served(first) == [b"q", b"one"]
    assert served(second) is None
    srv("RPUSH", "q", "two")
    assert served(second) == [b"q", b"two"]
    assert srv("EXISTS", "q") == 0


def test_one_push_of_several_elements_serves_several_clients(srv):
    """Each waiter takes one element, in blocking order, from its own end."""
    first = block(srv, "BLPOP", "q", "0")
    second = block(srv, "BRPOP", "q", "0")
    third = block(srv, "BLPOP", "q", "0")
    srv("RPUSH", "q", "a", "b")
    assert served(first) == [b"q", b"a"]
    assert served(second) == [b"q", b"b"]
    assert served(third) is None
    assert srv.propagated[1:] == [[b"LPOP", b"q"], [b"RPOP", b"q"]]


def test_a_client_blocked_on_several_keys_is_served_by_any_of_them(srv):
    """BLPOP a b waits on both; a push on b serves it from b, and it no
    longer waits on a."""
    waiter = block(srv, "BLPOP", "a", "b", "0")
    srv("LPUSH", "b", "x")
    assert served(waiter) == [b"b", b"x"]
    srv("LPUSH", "a", "y")
    assert srv("LRANGE", "a", "0", "-1") == [b"y"]


def test_blmpop_is_served_with_its_count_and_propagated_with_what_it_took(srv):
    """BLMPOP ... COUNT 5 served by a push of 2 pops both, replies
    [key, [elements]], propagates LPOP key 2 and counts them dirty."""
    waiter = block(srv, "BLMPOP", "0", "2", "a", "q", "LEFT", "COUNT", "5")
    dirty = srv.server.dirty
    srv("RPUSH", "q", "x", "y")
    assert served(waiter) == [b"q", [b"x", b"y"]]
    assert srv.propagated[-1] == [b"LPOP", b"q", b"2"]
    assert srv.server.dirty == dirty + 4


def test_blmove_is_served_and_propagated_as_lmove_in_lower_case(srv):
    """A served BLMOVE pushes into its destination and propagates
    LMOVE src dst left|right left|right, as Redis's shared objects spell
    them; the served pop adds nothing to dirty (Redis 7.0)."""
    waiter = block(srv, "BLMOVE", "q", "d", "RIGHT", "LEFT", "0")
    dirty = srv.server.dirty
    srv("RPUSH", "q", "a", "b")
    assert served(waiter) == b"b"
    assert srv("LRANGE", "d", "0", "-1") == [b"b"]
    assert srv.propagated[-1] == [b"LMOVE", b"q", b"d", b"right", b"left"]
    assert srv.server.dirty == dirty + 2


def test_brpoplpush_is_served_and_propagated_as_rpoplpush(srv):
    """A served BRPOPLPUSH propagates RPOPLPUSH src dst."""
    waiter = block(srv, "BRPOPLPUSH", "q", "d", "0")
    srv("RPUSH", "q", "a", "b")
    assert served(waiter) == b"b"
    assert srv.propagated[-1] == [b"RPOPLPUSH", b"q", b"d"]


def test_a_served_move_can_serve_a_client_blocked_on_its_destination(srv):
    """BLMOVE q -> d fills d, which then serves a client blocked on d."""
    mover = block(srv, "BLMOVE", "q", "d", "LEFT", "LEFT", "0")
    popper = block(srv, "BLPOP", "d", "0")
    srv("RPUSH", "q", "x")
    assert served(mover) == b"x"
    assert served(popper) == [b"d", b"x"]
    assert srv("EXISTS", "q", "d") == 0
    assert srv.propagated[1:] == [
        [b"LMOVE", b"q", b"d", b"left", b"left"], [b"LPOP", b"d"]]


def test_blmove_onto_a_wrong_type_destination_fails_when_served(srv):
    """Redis 7.0 unblocks the client with WRONGTYPE, leaves the source
    as it was, and goes on to the next waiter."""
    srv("SET", "d", "string")
    mover = block(srv, "BLMOVE", "q", "d", "LEFT", "LEFT", "0")
    popper = block(srv, "BLPOP", "q", "0")
    srv("RPUSH", "q", "x")
    assert served(mover) == errors.WRONGTYPE
    assert served(popper) == [b"q", b"x"]
    assert srv.propagated[-2:] == [[b"RPUSH", b"q", b"x"], [b"LPOP", b"q"]]


def test_a_key_refilled_with_another_type_does_not_serve(srv):
    """A waiter offered a key that now holds a string keeps waiting."""
    waiter = block(srv, "BLPOP", "q", "0")
    srv.db.set(b"q", b"string")
    srv.db.signal_ready(b"q")
    srv.server.blocking.serve_ready()
    assert served(waiter) is None
    assert len(srv.server.blocking) == 1


def test_served_pop_emits_its_events(srv):
    """Serving emits the pop's event and "del" for the emptied key."""
    srv("CONFIG", "SET", "notify-keyspace-events", "KEA")
    events = []
    srv.server.pubsub.notify = lambda cls, event, key, db: events.append(
        (event, key))
    block(srv, "BRPOP", "q", "0")
    srv("RPUSH", "q", "x")
    assert events == [(b"rpush", b"q"), (b"rpop", b"q"), (b"del", b"q")]


# -- MULTI/EXEC ----------------------------------------------------------------

def test_a_push_inside_multi_serves_after_exec(srv):
    """A push queued in MULTI serves nobody until EXEC has run; the
    transaction is propagated first (a lone write without MULTI/EXEC, as
    Redis 7.0 does), then the served pop."""
    waiter = block(srv, "BLPOP", "q", "0")
    assert srv("MULTI") is not None
    assert srv("RPUSH", "q", "a") is QUEUED
    assert served(waiter) is None
    assert srv("EXEC") == [1]
    assert served(waiter) == [b"q", b"a"]
    assert srv.propagated == [[b"RPUSH", b"q", b"a"], [b"LPOP", b"q"]]


def test_the_served_pop_is_propagated_after_the_whole_transaction(srv):
    """Two pushes in EXEC go out as MULTI ... EXEC; the served LPOP follows
    the EXEC, outside the transaction, as Redis 7.0's stream shows."""
    waiter = block(srv, "BLPOP", "q", "0")
    srv("MULTI")
    srv("RPUSH", "q", "a")
    srv("RPUSH", "q", "b")
    assert srv("EXEC") == [1, 2]
    assert served(waiter) == [b"q", b"a"]
    assert srv.propagated == [
        [b"MULTI"], [b"RPUSH", b"q", b"a"], [b"RPUSH", b"q", b"b"], [b"EXEC"],
        [b"LPOP", b"q"]]


def test_a_push_then_pop_inside_multi_leaves_nothing_to_serve(srv):
    """EXEC's own pop takes the element first: the waiter keeps waiting."""
    waiter = block(srv, "BLPOP", "q", "0")
    srv("MULTI")
    srv("RPUSH", "q", "a")
    srv("LPOP", "q")
    assert srv("EXEC") == [1, b"a"]
    assert served(waiter) is None


@pytest.mark.parametrize("args, reply", [
    (("BLPOP", "q", "0"), NULL_ARRAY),
    (("BRPOP", "q", "0"), NULL_ARRAY),
    (("BLMPOP", "0", "1", "q", "LEFT"), NULL_ARRAY),
    (("BLMOVE", "q", "d", "LEFT", "LEFT", "0"), None),
    (("BRPOPLPUSH", "q", "d", "0"), None),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_nothing_blocks_inside_multi(srv, args, reply):
    """In EXEC an empty key answers at once: a null array for the pops, a
    null bulk for the moves (CLIENT_DENY_BLOCKING)."""
    srv("MULTI")
    srv(*args)
    result = srv("EXEC")
    assert len(result) == 1 and result[0] is reply
    assert len(srv.server.blocking) == 0


# -- timeouts ------------------------------------------------------------------

def test_fractional_timeout_replies_null_array_at_its_deadline(srv):
    """BLPOP ... 0.5 answers a null array after 500 ms, not before."""
    waiter = block(srv, "BLPOP", "q", "0.5")
    srv.advance(0.499)
    assert served(waiter) is None
    srv.advance(0.001)
    assert served(waiter) is NULL_ARRAY
    srv("RPUSH", "q", "x")
    assert srv("LLEN", "q") == 1


@pytest.mark.parametrize("args", [
    ("BLMOVE", "q", "d", "LEFT", "LEFT", "0.25"),
    ("BRPOPLPUSH", "q", "d", "0.25"),
    ("BLMPOP", "0.25", "1", "q", "LEFT"),
], ids=" ".join)
def test_every_blocking_command_times_out_with_a_null_array(srv, args):
    """Timed-out moves answer a null array too (replyToBlockedClientTimedOut)."""
    waiter = block(srv, *args)
    srv.advance(0.25)
    assert served(waiter) is NULL_ARRAY


def test_timeout_zero_waits_for_ever(srv):
    """0 never times out."""
    waiter = block(srv, "BLPOP", "q", "0")
    srv.advance(10 ** 6)
    assert served(waiter) is None
    srv("LPUSH", "q", "x")
    assert served(waiter) == [b"q", b"x"]


def test_a_timed_out_client_is_no_longer_served(srv):
    """After its timeout a client leaves the queue: the next one is served."""
    early = block(srv, "BLPOP", "q", "1")
    late = block(srv, "BLPOP", "q", "0")
    srv.advance(1)
    srv("RPUSH", "q", "x")
    assert served(early) is NULL_ARRAY
    assert served(late) == [b"q", b"x"]


def test_a_disconnected_waiter_is_skipped(srv):
    """A blocked client that goes away takes no element."""
    gone = block(srv, "BLPOP", "q", "0")
    srv.server.remove_client(gone)
    srv("RPUSH", "q", "x")
    assert srv("LRANGE", "q", "0", "-1") == [b"x"]


@pytest.mark.parametrize("args, error", [
    (("BLPOP", "q", "abc"), errors.TIMEOUT_NOT_FLOAT),
    (("BLPOP", "q", "-1"), errors.TIMEOUT_NEGATIVE),
    (("BLMPOP", "x", "1", "q", "LEFT"), errors.TIMEOUT_NOT_FLOAT),
    (("BLMPOP", "x", "0", "q", "LEFT"), errors.NUMKEYS_NOT_POSITIVE),
    (("BLMOVE", "q", "d", "UP", "LEFT", "x"), errors.SYNTAX),
    (("BRPOPLPUSH", "q", "d", "-2"), errors.TIMEOUT_NEGATIVE),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_bad_blocking_arguments_reply_errors_without_blocking(srv, args, error):
    """Argument errors come in Redis's order and nothing blocks."""
    assert srv(*args) == error
    assert len(srv.server.blocking) == 0


# -- over the protocol -----------------------------------------------------------

def test_blocked_blpop_holds_the_pipeline_until_a_push_serves_it(srv):
    """The reply to BLPOP comes when served; the pipelined PING after it
    runs only then."""
    proto, transport = connect(srv)
    proto.dataReceived(b"BLPOP q 0\r\nPING\r\n")
    assert transport.value() == b""
    srv("RPUSH", "q", "hello")
    assert transport.value() == b"*2\r\n$1\r\nq\r\n$5\r\nhello\r\n"
    srv.advance(0)
    assert transport.value().endswith(b"+PONG\r\n")


def test_blocked_brpoplpush_times_out_with_a_resp2_null_array(srv):
    """On the wire a timed-out BRPOPLPUSH is *-1 in RESP2, not $-1."""
    proto, transport = connect(srv)
    proto.dataReceived(b"BRPOPLPUSH q d 0.1\r\n")
    srv.advance(0.1)
    assert transport.value() == b"*-1\r\n"

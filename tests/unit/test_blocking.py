"""The blocked-client registry: FIFO service, timeouts, propagation, cleanup."""

from redisrepl.blocking import BLOCKED
from redisrepl.resp.values import NULL_ARRAY
from tests.unit.harness import Harness


def popper(served):
    """A serve() that pops one item from a Python list value, as BLPOP would."""
    def serve(client, db, key):
        items = db.get(key)
        if not items:
            return None
        item = items.pop(0)
        if not items:
            db.delete(key)
        client.server.also_propagate(db.id, [b"LPOP", key])
        served.append(client.id)
        return [key, item]
    return serve


def test_first_blocked_is_served_first_and_others_keep_waiting():
    """Two clients wait; one element serves only the one that blocked first."""
    srv = Harness()
    a, b = srv.new_client(), srv.new_client()
    served = []
    blocking = srv.server.blocking
    assert blocking.block(a, [b"q"], 0, popper(served), NULL_ARRAY) is BLOCKED
    assert blocking.block(b, [b"q"], 0, popper(served), NULL_ARRAY) is BLOCKED
    srv.db.data[b"q"] = [b"x"]
    srv.db.signal_ready(b"q")
    blocking.serve_ready()
    assert served == [a.id]
    assert a.conn.unblocked_with == [b"q", b"x"]
    assert b.conn.unblocked_with is None
    assert len(blocking) == 1


def test_served_pop_is_propagated_as_its_own_command():
    """What serve() changes is propagated once it has run."""
    srv = Harness()
    client = srv.new_client()
    srv.server.blocking.block(client, [b"q"], 0, popper([]), NULL_ARRAY)
    srv.db.data[b"q"] = [b"x"]
    srv.db.signal_ready(b"q")
    srv.server.blocking.serve_ready()
    assert srv.propagated == [[b"LPOP", b"q"]]


def test_timeout_replies_with_the_timeout_reply():
    """A finite timeout unblocks with the timeout reply at its deadline."""
    srv = Harness()
    client = srv.new_client()
    srv.server.blocking.block(client, [b"q"], 1500, popper([]), NULL_ARRAY)
    srv.advance(1.4)
    assert client.conn.unblocked_with is None
    srv.advance(0.2)
    assert client.conn.unblocked_with is NULL_ARRAY
    assert len(srv.server.blocking) == 0


def test_nothing_blocks_inside_exec():
    """In a transaction a blocking command answers its timeout reply at once."""
    srv = Harness()
    client = srv.new_client()
    client.in_exec = True
    assert srv.server.blocking.block(client, [b"q"], 0, popper([]), NULL_ARRAY) \
        is NULL_ARRAY


def test_disconnect_forgets_the_wait_and_its_timer():
    """A blocked client that goes away leaves no waiter and no timer."""
    srv = Harness()
    client = srv.new_client()
    srv.server.blocking.block(client, [b"q", b"r"], 5000, popper([]), NULL_ARRAY)
    srv.server.remove_client(client)
    assert srv.server.blocking.waiting == {}
    assert srv.clock.getDelayedCalls() == []


def test_set_signals_nothing_to_blocking_but_signal_ready_does():
    """Only keys signalled ready are offered; unrelated keys are ignored."""
    srv = Harness()
    client = srv.new_client()
    srv.server.blocking.block(client, [b"q"], 0, popper([]), NULL_ARRAY)
    srv.db.signal_ready(b"other")
    assert not srv.server.blocking.ready
    srv.db.signal_ready(b"q")
    assert list(srv.server.blocking.ready) == [(0, b"q")]


def test_rename_onto_a_waited_key_serves_the_waiter():
    """A list that arrives by RENAME wakes BLPOP, as Redis's dbAdd signals."""
    srv = Harness()
    waiter = srv.new_client()
    assert srv("BLPOP", "q", "0", client=waiter) is BLOCKED
    srv("RPUSH", "src", "a")
    srv("RENAME", "src", "q")
    assert waiter.conn.unblocked_with == [b"q", b"a"]


def test_swapdb_serves_waiters_whose_key_swaps_in():
    """SWAPDB offers the waited keys of both numbers (scanDatabaseForReadyKeys)."""
    srv = Harness()
    waiter = srv.new_client()
    assert srv("BLPOP", "q", "0", client=waiter) is BLOCKED
    srv("SELECT", "1")
    srv("RPUSH", "q", "x")
    srv("SWAPDB", "0", "1")
    assert waiter.conn.unblocked_with == [b"q", b"x"]


def test_idle_timeout_spares_blocked_and_subscribed_clients():
    """timeout closes idle clients, but not blocked or subscribed ones."""
    srv = Harness("timeout 1")
    idle, blocked, subscriber = srv.new_client(), srv.new_client(), srv.new_client()
    srv("BLPOP", "q", "0", client=blocked)
    srv.server.pubsub.subscribe(subscriber, b"news")
    srv.advance(5)
    srv.server.cron()
    assert idle.conn.closed
    assert not blocked.conn.closed and not subscriber.conn.closed

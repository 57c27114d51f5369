"""WAIT and min-replicas-to-write against a fake ReplicationMaster.

The fake has what replication/wait.py reads: ``links`` (state, ack_offset,
ack_time_ms), ``on_ack``, ``request_acks()`` and ``good_replicas()``, and a
stream consumer so writes move ``master_repl_offset`` as the real one does.
"""

import pytest

from redisrepl.blocking import BLOCKED
from redisrepl.commands.args import parse_timeout_ms
from redisrepl.propagation import REPL, CommandStream
from redisrepl.replication.wait import NOREPLICAS, ReplicaGuarantees
from redisrepl.resp.values import OK, QUEUED, ReplyError
from tests.unit.harness import Harness, served


class FakeLink:
    def __init__(self, state="online", ack_offset=0, ack_time_ms=0):
        self.state = state
        self.ack_offset = ack_offset
        self.ack_time_ms = ack_time_ms


class FakeRepl:
    def __init__(self, instance):
        self.instance = instance
        self.links = []
        self.on_ack = []
        self.ack_requests = 0
        instance.propagator.add(CommandStream(self.feed, targets=REPL))

    def feed(self, data):
        self.instance.master_repl_offset += len(data)

    def request_acks(self):
        self.ack_requests += 1

    def good_replicas(self):
        now_s = self.instance.now_ms() // 1000
        max_lag = self.instance.config["min-replicas-max-lag"]
        return sum(1 for link in self.links
                   if link.state == "online" and now_s - link.ack_time_ms // 1000 <= max_lag)

    def add_link(self, state="online", ack_offset=0):
        link = FakeLink(state, ack_offset, self.instance.now_ms())
        self.links.append(link)
        return link

    def ack(self, link, offset):
        """What ReplicationMaster.ack does for REPLCONF ACK ``offset``."""
        link.ack_offset = max(link.ack_offset, offset)
        link.ack_time_ms = self.instance.now_ms()
        for callback in list(self.on_ack):
            callback(link)


class Setup:
    def __init__(self, config_text=""):
        self.srv = Harness(config_text)
        server = self.srv.server
        self.repl = FakeRepl(server)
        self.guarantees = server.guarantees = ReplicaGuarantees(server, self.repl)

    @property
    def offset(self):
        return self.srv.server.master_repl_offset

    def end_turn(self):
        """Let the reactor turn end: the once-a-turn WAIT check runs."""
        self.srv.advance(0)


@pytest.fixture
def w():
    return Setup()


def wait_on_new_client(w, *args, write=True):
    """A new client writes a key (unless told not to), then runs WAIT
    ``args``; returns (client, reply)."""
    client = w.srv.new_client()
    if write:
        assert w.srv("SET", "k", "v", client=client) == OK
    return client, w.srv("WAIT", *args, client=client)


# -- Client.woff ---------------------------------------------------------------

def test_a_propagated_write_sets_the_clients_offset_and_a_read_does_not(w):
    """woff is the stream offset right after the client's last write."""
    w.srv("SET", "a", "1")
    after_write = w.offset
    assert after_write > 0
    assert w.srv.client.woff == after_write
    other = w.srv.new_client()
    w.srv("SET", "b", "2", client=other)
    w.srv("GET", "a")
    assert w.srv.client.woff == after_write
    assert other.woff == w.offset


def test_exec_sets_the_offset_after_the_whole_transaction(w):
    """A transaction's writes reach the stream at EXEC: woff follows them."""
    w.srv("MULTI")
    w.srv("SET", "a", "1")
    w.srv("INCR", "n")
    w.srv("EXEC")
    assert w.srv.client.woff == w.offset > 0


# -- WAIT answered at once -----------------------------------------------------

def test_wait_with_no_write_and_acked_replicas_answers_at_once(w):
    """Before any write the target is offset 0: every online replica counts."""
    w.repl.add_link()
    w.repl.add_link()
    assert w.srv("WAIT", 1, 0) == 2
    assert w.repl.ack_requests == 0


def test_wait_for_zero_replicas_answers_zero_at_once(w):
    """WAIT 0 never blocks, even after a write with no replica."""
    w.srv("SET", "a", "1")
    assert w.srv("WAIT", 0, 0) == 0


def test_wait_counts_only_online_replicas_that_acked_the_write(w):
    """Replicas still syncing, or behind the write, are not counted."""
    w.srv("SET", "a", "1")
    w.repl.add_link(ack_offset=w.offset)
    w.repl.add_link(state="send_bulk", ack_offset=w.offset)
    w.repl.add_link(ack_offset=w.offset - 1)
    assert w.srv("WAIT", 1, 0) == 1
    assert w.guarantees.acked(w.offset) == 1


def test_wait_inside_multi_answers_the_count_without_blocking(w):
    """Queued in MULTI, WAIT answers at EXEC with the current count."""
    w.repl.add_link()
    w.srv("SET", "a", "1")
    assert w.srv("MULTI") == OK
    assert w.srv("WAIT", 5, 0) == QUEUED
    assert w.srv("EXEC") == [0]
    assert len(w.srv.server.blocking) == 0


# -- WAIT blocking -------------------------------------------------------------

def test_wait_blocks_asks_for_acks_once_and_an_ack_unblocks_it(w):
    """Not enough acks: block, one GETACK request; the ack answers it."""
    link = w.repl.add_link()
    client, reply = wait_on_new_client(w, 1, 0)
    assert reply is BLOCKED
    assert w.repl.ack_requests == 1
    w.repl.ack(link, w.offset)
    assert served(client) is None     # answered when the reactor turn ends
    w.end_turn()
    assert served(client) == 1
    assert len(w.srv.server.blocking) == 0
    assert w.guarantees.waiting == []


def test_an_ack_below_the_clients_write_keeps_it_waiting(w):
    """An ack of an older offset does not satisfy the write."""
    link = w.repl.add_link()
    client, reply = wait_on_new_client(w, 1, 0)
    assert reply is BLOCKED
    w.repl.ack(link, client.woff - 1)
    w.end_turn()
    assert served(client) is None
    w.repl.ack(link, client.woff)
    w.end_turn()
    assert served(client) == 1


def test_acks_of_one_turn_are_counted_together(w):
    """Two acks in one reactor turn: the waiter sees both, as in Redis."""
    a, b = w.repl.add_link(), w.repl.add_link()
    client, reply = wait_on_new_client(w, 1, 0)
    assert reply is BLOCKED
    w.repl.ack(a, w.offset)
    w.repl.ack(b, w.offset)
    w.end_turn()
    assert served(client) == 2


def test_waiters_are_served_oldest_first_with_redis_count_reuse(w):
    """A waiter asking no more than the one just served is answered with
    that one's count (processClientsWaitingReplicas's shortcut), even if
    more replicas acked its own, older write."""
    a, b = w.repl.add_link(), w.repl.add_link()
    early = w.srv.new_client()
    w.srv("SET", "k", "v", client=early)
    late, reply = wait_on_new_client(w, 1, 0)
    assert reply is BLOCKED
    assert w.srv("WAIT", 1, 0, client=early) is BLOCKED
    assert early.woff < late.woff
    w.repl.ack(a, late.woff)
    w.repl.ack(b, early.woff)
    w.end_turn()
    assert served(late) == 1
    assert served(early) == 1
    assert w.guarantees.acked(early.woff) == 2


def test_an_unsatisfied_older_waiter_does_not_hold_back_newer_ones(w):
    """Every waiter is checked: the oldest still waiting keeps waiting."""
    a = w.repl.add_link()
    w.repl.add_link()
    first, reply1 = wait_on_new_client(w, 2, 0)
    second, reply2 = wait_on_new_client(w, 1, 0)
    assert reply1 is BLOCKED and reply2 is BLOCKED
    w.repl.ack(a, w.offset)
    w.end_turn()
    assert served(first) is None
    assert served(second) == 1
    assert len(w.guarantees.waiting) == 1


def test_timeout_answers_the_replicas_that_acked_by_then(w):
    """WAIT 2 100 with one replica acking: 1 after 100 ms, not before."""
    link = w.repl.add_link()
    client, reply = wait_on_new_client(w, 2, 100)
    assert reply is BLOCKED
    assert w.srv.server.blocking.with_timeout() == 1
    w.repl.ack(link, w.offset)
    w.end_turn()
    assert served(client) is None
    w.srv.advance(0.099)
    assert served(client) is None
    w.srv.advance(0.001)
    assert served(client) == 1
    assert w.guarantees.waiting == []
    assert len(w.srv.server.blocking) == 0


def test_timeout_with_no_ack_answers_zero(w):
    """Nobody acked within the timeout: the answer is 0."""
    w.repl.add_link()
    client, reply = wait_on_new_client(w, 1, 50)
    assert reply is BLOCKED
    w.srv.advance(0.05)
    assert served(client) == 0


def test_zero_timeout_waits_for_ever(w):
    """WAIT n 0 has no deadline: only acks end it."""
    link = w.repl.add_link()
    client, reply = wait_on_new_client(w, 1, 0)
    assert reply is BLOCKED
    assert w.srv.server.blocking.with_timeout() == 0
    w.srv.advance(10 ** 7)
    assert served(client) is None
    w.repl.ack(link, w.offset)
    w.end_turn()
    assert served(client) == 1


def test_a_waiter_that_disconnects_is_forgotten(w):
    """A closed WAIT client is never answered and leaves the list."""
    link = w.repl.add_link()
    client, reply = wait_on_new_client(w, 1, 0)
    assert reply is BLOCKED
    w.srv.server.remove_client(client)
    w.guarantees.cron()
    assert w.guarantees.waiting == []
    w.repl.ack(link, w.offset)
    w.end_turn()
    assert served(client) is None


def test_a_huge_timeout_waits_for_ever_as_redis_70():
    """A deadline past LLONG_MAX wraps in Redis 7.0 and never fires."""
    now = 1_700_000_000_000
    assert parse_timeout_ms(b"9223372036854775807", now) == 0
    assert parse_timeout_ms(b"100", now) == 100
    assert parse_timeout_ms(b"0", now) == 0


@pytest.mark.parametrize("args, error", [
    ((1, -1), "ERR timeout is negative"),
    ((1, "1.5"), "ERR timeout is not an integer or out of range"),
    ((1, "abc"), "ERR timeout is not an integer or out of range"),
    ((1, "99999999999999999999"), "ERR timeout is not an integer or out of range"),
    (("x", -1), "ERR value is not an integer or out of range"),
    (("99999999999999999999", 1), "ERR value is not an integer or out of range"),
])
def test_wait_argument_errors_are_redis_texts(w, args, error):
    """Bad numreplicas (checked first) or timeout: Redis 7.0's errors."""
    reply = w.srv("WAIT", *args)
    assert isinstance(reply, ReplyError)
    assert reply.message == error.encode()


def test_wait_is_refused_on_a_replica(w, monkeypatch):
    """A replica answers WAIT with Redis's long explanation."""
    monkeypatch.setattr(w.srv.server, "role_name", lambda: b"slave")
    reply = w.srv("WAIT", 0, 0)
    assert reply.message.startswith(
        b"ERR WAIT cannot be used with replica instances. Please also note")
    assert reply.message.endswith(b"writes to replicas are just local and are not propagated.")


# -- min-replicas-to-write -------------------------------------------------------

def test_too_few_good_replicas_refuse_writes_but_not_reads(w):
    """min-replicas-to-write 1 with no replica: NOREPLICAS for SET, GET works."""
    assert w.srv("CONFIG", "SET", "min-replicas-to-write", 1) == OK
    reply = w.srv("SET", "a", "1")
    assert reply.message == b"NOREPLICAS Not enough good replicas to write."
    assert w.srv("GET", "a") is None
    assert w.srv("PING") is not None and not isinstance(w.srv("PING"), ReplyError)
    assert w.srv.server.errorstats["NOREPLICAS"] == 1


def test_a_zero_max_lag_disables_the_check(w):
    """As Redis's checkGoodReplicasStatus, min-replicas-max-lag 0 is off."""
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    w.srv("CONFIG", "SET", "min-replicas-max-lag", 0)
    assert w.srv("SET", "a", "1") == OK
    w.srv("CONFIG", "SET", "min-replicas-max-lag", 10)
    assert w.srv("SET", "a", "1") is NOREPLICAS


def test_config_at_startup_gates_writes_at_once():
    """min-replicas-to-write from redis.conf applies before any cron."""
    setup = Setup("min-replicas-to-write 2\n")
    assert setup.srv("SET", "a", "1") is NOREPLICAS


def test_enough_good_replicas_let_writes_through_after_the_refresh(w):
    """The good count is refreshed once a second (cron), as Redis does."""
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    w.repl.add_link()
    assert w.srv("SET", "a", "1") is NOREPLICAS     # not recounted yet
    w.guarantees.cron()
    assert w.srv("SET", "a", "1") == OK
    assert w.guarantees.good_count == 1


def test_a_config_change_recounts_good_replicas_at_once(w):
    """CONFIG SET of either directive refreshes the gate immediately."""
    w.repl.add_link()
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    assert w.srv("SET", "a", "1") == OK
    w.srv("CONFIG", "SET", "min-replicas-to-write", 2)
    assert w.srv("SET", "a", "1") is NOREPLICAS
    w.srv("CONFIG", "SET", "min-replicas-to-write", 0)
    assert w.srv("SET", "a", "1") == OK


def test_a_lagging_replica_stops_being_good(w):
    """A replica whose last ack is older than max-lag seconds is not good."""
    w.srv("CONFIG", "SET", "min-replicas-max-lag", 2)
    link = w.repl.add_link()
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    assert w.srv("SET", "a", "1") == OK
    w.srv.advance(3)
    w.guarantees.cron()
    assert w.srv("SET", "a", "1") is NOREPLICAS
    w.repl.ack(link, w.offset)
    w.guarantees.cron()
    assert w.srv("SET", "a", "1") == OK


def test_a_replica_still_syncing_is_not_good(w):
    """Only online replicas count toward min-replicas-to-write."""
    w.repl.add_link(state="send_bulk")
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    assert w.srv("SET", "a", "1") is NOREPLICAS


def test_exec_with_a_queued_write_is_aborted_when_replicas_went_missing(w):
    """Writes queued while allowed, EXEC after the gate closed: EXECABORT."""
    w.srv("MULTI")
    assert w.srv("SET", "a", "1") == QUEUED
    assert w.srv("GET", "a") == QUEUED
    other = w.srv.new_client()
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1, client=other)
    reply = w.srv("EXEC")
    assert reply.message == (b"EXECABORT Transaction discarded because of: "
                             b"NOREPLICAS Not enough good replicas to write.")
    assert w.srv.client.multi is None
    assert w.srv("GET", "a") is None


def test_exec_of_reads_only_runs_without_good_replicas(w):
    """A transaction with no write is not gated."""
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    w.srv("MULTI")
    w.srv("GET", "a")
    assert w.srv("EXEC") == [None]


def test_a_write_refused_while_queuing_dooms_the_transaction(w):
    """NOREPLICAS at queue time flags the transaction, as Redis does."""
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    w.srv("MULTI")
    assert w.srv("SET", "a", "1") is NOREPLICAS
    assert w.srv("EXEC").message == (
        b"EXECABORT Transaction discarded because of previous errors.")


def test_a_replica_is_never_gated(w, monkeypatch):
    """min-replicas-to-write applies to masters only."""
    monkeypatch.setattr(w.srv.server, "role_name", lambda: b"slave")
    w.srv("CONFIG", "SET", "min-replicas-to-write", 1)
    assert w.srv.server.min_replicas_error is None


def test_cron_answers_a_waiter_satisfied_without_an_ack(w):
    """A replica put online with the offset already acked answers WAIT
    at the next cron, ack or not (Redis checks before every sleep)."""
    link = w.repl.add_link(state="send_bulk")
    client, reply = wait_on_new_client(w, 1, 0, write=False)
    assert reply is BLOCKED
    link.state = "online"
    w.guarantees.cron()
    assert served(client) == 1

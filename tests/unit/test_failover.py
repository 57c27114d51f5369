"""FAILOVER without sockets (redisrepl/replication/failover.py and
commands/failover.py): Redis 7.0's error texts, the write pause, the wait
for a replica's ACK, TIMEOUT with and without FORCE, ABORT, the target's
answer; the PSYNC ... FAILOVER the handshake sends; and the target side
(a replica promoting itself on PSYNC FAILOVER). Time is a task.Clock."""

import pytest

from redisrepl.commands.info import generate
from redisrepl.engine import PAUSED
from redisrepl.replication import handshake as hs
from redisrepl.resp.values import NO_REPLY, OK, ReplyError
from tests.unit.test_replication_master import Repl, wire

TARGET = ("127.0.0.1", 6380)


@pytest.fixture
def rs():
    return Repl()


def error_text(reply):
    assert isinstance(reply, ReplyError), reply
    return reply.message.decode()


def info_state(rs):
    text = generate(rs.server, {"replication"})
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def ack_all(rs, client):
    """REPLCONF ACK of the master's whole stream, then the next turn."""
    rs("REPLCONF", "ACK", rs.server.master_repl_offset, client=client)
    rs.advance(0)


# -- the command's errors, byte for byte ------------------------------------------

def test_errors_without_replicas_and_abort_without_failover(rs):
    """No replica: 'requires connected replicas'; ABORT with nothing under
    way: 'No failover in progress.'"""
    assert error_text(rs("FAILOVER")) == "ERR FAILOVER requires connected replicas."
    assert error_text(rs("FAILOVER", "ABORT")) == "ERR No failover in progress."


@pytest.mark.parametrize("args, text", [
    (("FORCE",), "ERR FAILOVER with force option requires both a timeout and "
                 "target HOST and IP."),
    (("TO", "127.0.0.1", "6380", "FORCE"), "ERR FAILOVER with force option requires "
                                            "both a timeout and target HOST and IP."),
    (("FORCE", "TIMEOUT", "100"), "ERR FAILOVER with force option requires both a "
                                  "timeout and target HOST and IP."),
    (("TIMEOUT", "0"), "ERR FAILOVER timeout must be greater than 0"),
    (("TIMEOUT", "-5"), "ERR FAILOVER timeout must be greater than 0"),
    (("TIMEOUT", "abc"), "ERR value is not an integer or out of range"),
    (("TO", "127.0.0.1", "port"), "ERR value is not an integer or out of range"),
    (("TO", "127.0.0.1"), "ERR syntax error"),
    (("FORCE", "FORCE"), "ERR syntax error"),
    (("TIMEOUT",), "ERR syntax error"),
    (("ABORT", "NOW"), "ERR syntax error"),
    (("BOGUS",), "ERR syntax error"),
    (("TO", "10.0.0.9", "6380"), "ERR FAILOVER target HOST and PORT is not a replica."),
    (("TO", "127.0.0.1", "6381"), "ERR FAILOVER target HOST and PORT is not a replica."),
])
def test_argument_errors(rs, args, text):
    """Each malformed or impossible FAILOVER gets Redis 7.0's error and
    starts nothing."""
    rs.online_replica()
    assert error_text(rs("FAILOVER", *args)) == text
    assert info_state(rs)["master_failover_state"] == "no-failover"


def test_target_not_online(rs):
    """A replica still waiting for its full sync cannot be the target."""
    client = rs.replica()
    assert rs("PSYNC", "?", "-1", client=client) is NO_REPLY
    assert error_text(rs("FAILOVER", "TO", *TARGET)) == \
        "ERR FAILOVER target replica is not online."


def test_on_a_replica(rs):
    """A replica refuses FAILOVER."""
    rs.server.replica.follow("127.0.0.1", 7000)
    assert error_text(rs("FAILOVER")) == "ERR FAILOVER is not valid when server is a replica."


def test_second_failover_and_replicaof_refused_while_waiting(rs):
    """While a failover waits: another FAILOVER, REPLICAOF and SYNC are
    refused with Redis's texts."""
    rs.online_replica()
    assert rs("FAILOVER") is OK
    assert error_text(rs("FAILOVER")) == "ERR FAILOVER already in progress."
    assert error_text(rs("REPLICAOF", "NO", "ONE")) == \
        "ERR REPLICAOF not allowed while failing over."
    other = rs.replica(port=6390)
    assert error_text(rs("PSYNC", "?", "-1", client=other)) == \
        "NOMASTERLINK Can't SYNC while failing over"


# -- waiting for the replica ---------------------------------------------------------

def test_waiting_pauses_writes_not_reads_and_stops_expiry(rs):
    """waiting-for-sync: writes are held (PAUSED), reads answer, a key past
    its time is reported missing but not deleted (no DEL moves the offset)."""
    rs("SET", "k", "v", "PX", 100)
    rs.online_replica()
    assert rs("FAILOVER") is OK
    assert info_state(rs)["master_failover_state"] == "waiting-for-sync"
    assert rs("SET", "x", "1") is PAUSED
    assert rs("GET", "x") is None
    offset = rs.server.master_repl_offset
    rs.advance(1)
    assert rs("GET", "k") is None
    assert rs.server.master_repl_offset == offset


def test_client_pauses_and_the_failover_pause_are_apart(rs):
    """CLIENT UNPAUSE during a failover leaves its write pause in force, and
    an ABORT leaves a CLIENT PAUSE in force (Redis's pause purposes)."""
    rs.online_replica()
    assert rs("FAILOVER") is OK
    assert rs("CLIENT", "UNPAUSE") is OK
    assert rs("SET", "x", "1") is PAUSED
    assert rs("CLIENT", "PAUSE", 60_000, "WRITE") is OK
    assert rs("FAILOVER", "ABORT") is OK
    assert rs("SET", "x", "1") is PAUSED
    assert rs("CLIENT", "UNPAUSE") is OK
    assert rs("SET", "x", "1") is OK


def test_caught_up_replica_becomes_the_master(rs, logged):
    """FAILOVER (any replica): the first replica acking the whole stream is
    chosen; this server follows it, and its handshake carries FAILOVER."""
    client, link = rs.online_replica()
    rs("SET", "k", "v")
    assert rs("FAILOVER") is OK
    rs("REPLCONF", "ACK", rs.server.master_repl_offset - 1, client=client)
    rs.advance(0)
    assert info_state(rs)["master_failover_state"] == "waiting-for-sync"
    ack_all(rs, client)
    state = info_state(rs)
    assert state["master_failover_state"] == "failover-in-progress"
    assert state["role"] == "slave"
    assert (rs.server.replica.host, rs.server.replica.port) == TARGET
    assert "Failover target 127.0.0.1:6380 is synced, failing over." in logged
    assert "FAILOVER requested to any replica." in logged
    assert rs.server.replica.new_handshake().failover


def test_target_acks_decide_not_other_replicas(rs):
    """FAILOVER TO: only the named replica's ACK counts."""
    first, _ = rs.online_replica(port=6391, addr=b"127.0.0.1:40002")
    target, _ = rs.online_replica()
    rs("SET", "k", "v")
    assert rs("FAILOVER", "TO", *TARGET) is OK
    ack_all(rs, first)
    assert rs.server.repl.failover.state == "waiting-for-sync"
    ack_all(rs, target)
    assert rs.server.repl.failover.state == "failover-in-progress"


def test_target_host_matches_any_case(rs):
    """The target's host is compared case-insensitively (strcasecmp)."""
    rs.online_replica(addr=b"LOCALHOST:40003")
    assert rs("FAILOVER", "TO", "localhost", 6380) is OK
    assert rs.server.repl.failover.state == "waiting-for-sync"


def test_timeout_without_force_aborts(rs, logged):
    """TIMEOUT passes before the ACK: the failover aborts, writes resume,
    this server stays master with its replid."""
    rs.online_replica()
    replid = rs.server.replid
    rs("SET", "k", "v")
    assert rs("FAILOVER", "TO", *TARGET, "TIMEOUT", 500) is OK
    rs.advance(0.4)
    assert rs.server.repl.failover.state == "waiting-for-sync"
    rs.advance(0.1)
    assert rs.server.repl.failover.state == "no-failover"
    assert "FAILOVER to 127.0.0.1:6380 aborted: Replica never caught up before " \
           "timeout" in logged
    assert rs("SET", "x", "1") is OK
    assert not rs.server.replica.active
    assert rs.server.replid == replid


def test_timeout_with_force_fails_over_anyway(rs, logged):
    """TIMEOUT with FORCE: past the timeout this server follows the target
    though it never acked."""
    rs.online_replica()
    rs("SET", "k", "v")
    assert rs("FAILOVER", "TO", *TARGET, "TIMEOUT", 100, "FORCE") is OK
    rs.advance(0.1)
    assert rs.server.repl.failover.state == "failover-in-progress"
    assert rs.server.replica.active
    assert "FAILOVER to 127.0.0.1:6380 time out exceeded, failing over." in logged


def test_no_ping_while_a_timed_failover_waits(rs):
    """With a TIMEOUT no PING enters the stream while waiting (it would
    move the offset the replica must reach); without one it does."""
    rs.online_replica()
    assert rs("FAILOVER", "TO", *TARGET, "TIMEOUT", 60000) is OK
    offset = rs.server.master_repl_offset
    for _ in range(12):
        rs.server.repl.cron()
    assert rs.server.master_repl_offset == offset
    assert rs("FAILOVER", "ABORT") is OK
    assert rs("FAILOVER") is OK
    for _ in range(12):
        rs.server.repl.cron()
    assert rs.server.master_repl_offset > offset


def test_abort_while_waiting(rs, logged):
    """FAILOVER ABORT: no-failover, writes resume, held writes run."""
    rs.online_replica()
    assert rs("FAILOVER", "TO", *TARGET) is OK
    resumed = []
    rs.server.on_unpause.append(lambda: resumed.append(True))
    assert rs("FAILOVER", "ABORT") is OK
    assert "FAILOVER to 127.0.0.1:6380 aborted: Failover manually aborted" in logged
    assert resumed == [True]
    assert info_state(rs)["master_failover_state"] == "no-failover"
    assert rs("SET", "x", "1") is OK


# -- the target's answer -----------------------------------------------------------

def in_progress(rs):
    client, _ = rs.online_replica()
    assert rs("FAILOVER") is OK
    ack_all(rs, client)
    assert rs.server.repl.failover.in_progress
    return client


def test_accepted_psync_ends_the_failover_as_a_replica(rs):
    """+CONTINUE / +FULLRESYNC from the target: no-failover, still a
    replica, held writes now refused as on any read-only replica."""
    in_progress(rs)
    rs.server.repl.failover.psync_accepted()
    assert info_state(rs)["master_failover_state"] == "no-failover"
    assert rs.server.replica.active
    assert error_text(rs("SET", "x", "1")).startswith("READONLY")


def test_refused_psync_makes_this_server_master_again(rs, logged):
    """Any other answer: 'Failover target rejected psync request', this
    server is master again with a new replid (the old one as replid2)."""
    in_progress(rs)
    old = rs.server.replid
    rs.server.repl.failover.psync_refused()
    assert "FAILOVER to 127.0.0.1:6380 aborted: Failover target rejected psync " \
           "request" in logged
    assert not rs.server.replica.active
    assert rs.server.replid2 == old and rs.server.replid != old
    assert rs("SET", "x", "1") is OK


def test_abort_in_progress_turns_master_again(rs):
    """FAILOVER ABORT after the switch: master again, writes accepted."""
    in_progress(rs)
    assert rs("FAILOVER", "ABORT") is OK
    assert info_state(rs)["role"] == "master"
    assert rs("SET", "x", "1") is OK


# -- the handshake's PSYNC ... FAILOVER ---------------------------------------------

def psync_of(handshake):
    handshake.connected()
    handshake.reply(b"+PONG")
    handshake.reply(b"+OK")
    return handshake.reply(b"+OK")


def test_handshake_sends_psync_failover():
    """With failover, PSYNC carries FAILOVER after the id and offset."""
    handshake = hs.Handshake(6379, cached=hs.CachedMaster(b"a" * 40, 99), failover=True)
    events = psync_of(handshake)
    assert hs.Send(b"*4\r\n$5\r\nPSYNC\r\n$40\r\n" + b"a" * 40 +
                   b"\r\n$3\r\n100\r\n$8\r\nFAILOVER\r\n") in events
    assert handshake.psync_sent


@pytest.mark.parametrize("line", [b"-ERR PSYNC FAILOVER replid must match my replid.",
                                  b"-NOMASTERLINK Can't SYNC while failing over", b"garbage"])
def test_handshake_failover_refused_never_falls_back_to_sync(line):
    """Any answer but +FULLRESYNC/+CONTINUE fails a failover's handshake
    without sending SYNC."""
    handshake = hs.Handshake(6379, cached=hs.CachedMaster(b"a" * 40, 99), failover=True)
    psync_of(handshake)
    events = handshake.reply(line)
    assert not any(isinstance(e, hs.Send) for e in events)
    assert isinstance(events[-1], (hs.Failed, hs.RetryLater))


# -- the target: PSYNC <replid> <offset> FAILOVER ----------------------------------------

def replica_with_history(rs):
    """A replica (never dialing: bare clock) with a backlog, as after a sync."""
    rs.server.replica.follow("127.0.0.1", 7000)
    rs.server.repl.ensure_backlog()
    rs.server.replica._up()
    return rs.server.replid, rs.server.master_repl_offset


def test_psync_failover_promotes_the_replica_and_continues(rs, logged):
    """PSYNC <my replid> <offset+1> FAILOVER: this replica becomes master
    and answers +CONTINUE <new replid>, its old id kept as replid2."""
    replid, offset = replica_with_history(rs)
    old_master = rs.replica(port=6379, addr=b"127.0.0.1:40010")
    assert rs("PSYNC", replid, offset + 1, "FAILOVER", client=old_master) is NO_REPLY
    assert not rs.server.replica.active
    assert rs.server.replid2 == replid
    assert wire(old_master) == b"+CONTINUE " + rs.server.replid + b"\r\n"
    assert rs.server.sync_partial_ok == 1
    assert f"Failover request received for replid {replid.decode()}." in logged
    assert any(line.startswith("MASTER MODE enabled (failover request from 'id=")
               for line in logged)


def test_psync_failover_with_another_replid_is_refused(rs):
    """A replid that is not ours: refused, still a replica."""
    replica_with_history(rs)
    other = rs.replica(port=6379, addr=b"127.0.0.1:40011")
    reply = rs("PSYNC", "b" * 40, 1, "FAILOVER", client=other)
    assert error_text(reply) == "ERR PSYNC FAILOVER replid must match my replid."
    assert rs.server.replica.active


def test_psync_failover_to_a_master_is_refused(rs):
    """Sent to a master: refused with Redis's text."""
    other = rs.replica(port=6379, addr=b"127.0.0.1:40012")
    reply = rs("PSYNC", rs.server.replid, 1, "FAILOVER", client=other)
    assert error_text(reply) == "ERR PSYNC FAILOVER can't be sent to a master."
